import { open, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { syncDir } from './private-files';
import { describeStorageError } from './storage-errors';

/** A local AWS-API server listening on 127.0.0.1. */
export interface LocalServer {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/** The table's store on disk, as the stack needs to know of it. */
export interface TableStorage {
  /** Why the store last refused a write (`no space left on the disk (ENOSPC)`), until one succeeds again. */
  readonly fault: string | undefined;
  /** Called whenever {@link fault} changes. */
  onChange(listener: () => void): void;
  /** Tries a write flushed to disk, which clears the fault when it succeeds. @returns whether it did. */
  probe(): Promise<boolean>;
  /** Makes every write the server has answered so far survive a power loss. */
  makeDurable(): Promise<void>;
}

export interface DynamoDbServer extends LocalServer {
  /** With a `path` only. */
  storage: TableStorage | undefined;
}

/** What dynalite's store module gives its server; its LevelDB database is the part the stack needs. */
interface DynaliteStore {
  db: Record<string, unknown> & object;
}

type Callback = (error: (Error & { statusCode?: number; body?: unknown }) | null, value?: unknown) => void;

/** The LevelDB key of the durability probe: outside the prefixes dynalite keeps its tables under. */
const PROBE_KEY = '~campaign-inbox-probe';

/**
 * Makes dynalite answer a failed LevelDB call with DynamoDB's 500 `InternalServerError`, which the SDK retries,
 * where it would throw it from a callback and bring the whole process down; and tells `storage` whether each
 * write failed or succeeded.
 */
function answerStorageErrors(
  db: DynaliteStore['db'],
  storage: { fail(error: Error): void; succeed(): void },
) {
  const writes = new Set(['put', 'del', 'batch']);
  for (const name of ['get', 'put', 'del', 'batch']) {
    const method = db[name] as (...args: unknown[]) => unknown;
    if (typeof method !== 'function') continue;
    db[name] = (...args: unknown[]) => {
      const callback = args.at(-1);
      if (typeof callback !== 'function') return method(...args);
      return method(...args.slice(0, -1), ((error, value) => {
        if (error && error.statusCode === undefined) {
          if (writes.has(name)) storage.fail(error);
          asInternalServerError(error);
        } else if (!error && writes.has(name)) storage.succeed();
        (callback as Callback)(error, value);
      }) satisfies Callback);
    };
  }
  for (const name of ['createKeyStream', 'createValueStream']) {
    const method = db[name] as (...args: unknown[]) => NodeJS.EventEmitter;
    if (typeof method !== 'function') continue;
    db[name] = (...args: unknown[]) => {
      const stream = method(...args);
      // First in line: the error is an answer by the time dynalite's own listener sees it.
      stream.on('error', (error: Error & { statusCode?: number }) => {
        if (error.statusCode === undefined) asInternalServerError(error);
      });
      return stream;
    };
  }
}

function asInternalServerError(error: Error & { statusCode?: number; body?: unknown }) {
  error.statusCode = 500;
  error.body = {
    __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError',
    message: `the table's store failed: ${describeStorageError(error) ?? 'an internal error'}`,
  };
}

/** Flushes LevelDB's write-ahead logs and their directory: what they hold is every write not yet in a table file. */
async function syncWriteAheadLogs(path: string) {
  for (const name of await readdir(path)) {
    if (!/^\d+\.log$/.test(name)) continue;
    // A log deleted meanwhile had its writes moved to a table file, which LevelDB syncs itself.
    const handle = await open(join(path, name), 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!handle) continue;
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
  await syncDir(path);
}

/**
 * The table's store on disk at `path` as the stack sees it: whether the disk refuses its writes, a probe to find
 * when it takes them again, a flush of what it holds.
 */
function watchStorage(db: DynaliteStore['db'], path: string): TableStorage {
  let fault: string | undefined;
  const listeners: (() => void)[] = [];
  const set = (value: string | undefined) => {
    if (value === fault) return;
    fault = value;
    for (const listener of listeners) listener();
  };
  const probe = Object.getPrototypeOf(db).del as (key: string, options: { sync: boolean }) => Promise<void>;
  answerStorageErrors(db, {
    // Only a refusal of the disk's is a fault to wait out; anything else is answered 500 and no more.
    fail: (error) => {
      const why = describeStorageError(error);
      if (why) set(why);
    },
    succeed: () => set(undefined),
  });
  return {
    get fault() {
      return fault;
    },
    onChange: (listener) => {
      listeners.push(listener);
    },
    probe: async () => {
      try {
        await probe.call(db, PROBE_KEY, { sync: true });
        set(undefined);
        return true;
      } catch (error) {
        set(describeStorageError(error) ?? (error as Error).message.split('\n')[0] ?? 'unknown');
        return false;
      }
    },
    makeDurable: () => syncWriteAheadLogs(path),
  };
}

/**
 * Starts dynalite, a DynamoDB-API server, in this process on 127.0.0.1. With `path` its data lives on disk
 * (LevelDB) and survives a restart; without, in memory.
 */
export async function startDynamoDb(options: { port?: number; path?: string } = {}): Promise<DynamoDbServer> {
  // Imported here, not at the top: the CLI bundle leaves dynalite and fauxqs out and needs them only here.
  const { default: dynalite } = await import('dynalite');
  // dynalite keeps its LevelDB database to itself: its store module is asked for it as the server creates it.
  const storeModule = createRequire(import.meta.url)('dynalite/db') as {
    create: (options: unknown) => DynaliteStore;
  };
  const create = storeModule.create;
  let store: DynaliteStore | undefined;
  storeModule.create = (settings) => {
    store = create(settings);
    return store;
  };
  let server: ReturnType<typeof dynalite>;
  try {
    server = dynalite({
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
      ...(options.path ? { path: options.path } : {}),
    });
  } finally {
    storeModule.create = create;
  }
  const storage = options.path && store ? watchStorage(store.db, options.path) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    storage,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // SDK clients keep connections alive; without this, close waits for them to time out.
        server.closeAllConnections();
      }),
  };
}

/**
 * Starts fauxqs, an SQS-API server, in this process on 127.0.0.1 (its own CLI binds every interface).
 * Its queue URLs name a `*.localhost` host that does not resolve everywhere: clients get `endpoint` explicitly.
 */
export async function startSqs(options: { port?: number } = {}): Promise<LocalServer> {
  const { buildApp } = await import('fauxqs');
  const app = buildApp({ logger: false, host: '127.0.0.1' });
  await app.listen({ port: options.port ?? 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      app.server.closeAllConnections();
      await app.close();
    },
  };
}

/**
 * Every message body the SQS server's queue holds right now, ready, delayed or in flight, read through fauxqs'
 * inspection endpoint, which takes nothing off the queue and changes no visibility.
 */
export async function queueContents(endpoint: string, queueUrl: string): Promise<string[]> {
  const name = queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
  const response = await fetch(`${endpoint}/_fauxqs/queues/${encodeURIComponent(name)}`);
  if (!response.ok) throw new Error(`the SQS server could not show queue ${name}: HTTP ${response.status}`);
  const { messages } = (await response.json()) as {
    messages: {
      ready: { body: string }[];
      delayed: { body: string }[];
      inflight: { message: { body: string } }[];
    };
  };
  return [
    ...messages.ready.map((message) => message.body),
    ...messages.delayed.map((message) => message.body),
    ...messages.inflight.map((entry) => entry.message.body),
  ];
}
