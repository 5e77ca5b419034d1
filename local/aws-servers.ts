import type { AddressInfo } from 'node:net';

/** A local AWS-API server listening on 127.0.0.1. */
export interface LocalServer {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts dynalite, a DynamoDB-API server, in this process on 127.0.0.1. With `path` its data lives on disk
 * (LevelDB) and survives a restart; without, in memory.
 */
export async function startDynamoDb(options: { port?: number; path?: string } = {}): Promise<LocalServer> {
  // Imported here, not at the top: the CLI bundle leaves dynalite and fauxqs out and needs them only here.
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path ? { path: options.path } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
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
