/** How much a logger writes, least severe first: a logger drops lines below its level. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A structured logger: one JSON object per line, as CloudWatch Logs Insights reads them. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

function describeError(error: unknown): unknown {
  if (!(error instanceof Error)) return String(error);
  return {
    name: error.name,
    message: error.message,
    cause: error.cause ? describeError(error.cause) : undefined,
  };
}

/** A log level from its name in any case (`INFO`, `warn`); `info` when absent or unknown. */
export function levelFrom(name: string | undefined): Level {
  const level = name?.toLowerCase();
  return level === 'debug' || level === 'info' || level === 'warn' || level === 'error' ? level : 'info';
}

/**
 * Creates a logger writing to `write` (stdout by default) at `level` and above. Callers pass only ids, names
 * and reasons: never secrets, signatures or bodies.
 */
export function createLogger(
  service: string,
  level: Level = (process.env.LOG_LEVEL as Level | undefined) ?? 'info',
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const threshold = ORDER[level] ?? ORDER.info;
  const emit = (at: Level) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < threshold) return;
    const entry: Record<string, unknown> = {
      level: at,
      service,
      message,
      time: new Date().toISOString(),
      ...fields,
    };
    if (entry.error !== undefined) entry.error = describeError(entry.error);
    write(JSON.stringify(entry));
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/**
 * The deployed functions' logger: one JSON object per line in the shape Powertools writes (`level` in capitals,
 * `timestamp`), INFO and DEBUG on stdout, WARN and ERROR on stderr, so log queries and subscriptions written
 * for Powertools logs keep working.
 * @param context fields every line carries, read at each line: the running invocation's
 *   ({@link InvocationContext.fields}), under the names Powertools gives them.
 */
export function createLambdaLogger(
  service: string,
  level: Level,
  context: () => Readonly<Record<string, unknown>> = () => ({}),
): Logger {
  const threshold = ORDER[level];
  const emit = (at: Level) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < threshold) return;
    const entry: Record<string, unknown> = {
      level: at.toUpperCase(),
      message,
      service,
      timestamp: new Date().toISOString(),
      ...context(),
      ...fields,
    };
    if (entry.error !== undefined) entry.error = describeError(entry.error);
    (at === 'warn' || at === 'error' ? process.stderr : process.stdout).write(`${JSON.stringify(entry)}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** What a Lambda invocation's context object holds that its log lines name (a part of Lambda's `Context`). */
export interface InvocationInfo {
  awsRequestId: string;
  functionName: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
}

/** The invocation a container runs now, for its log lines: {@link InvocationContext.start} it on each one. */
export interface InvocationContext {
  /** Marks the start of an invocation: its lines name it from now on. */
  start(invocation: Partial<InvocationInfo> | undefined): void;
  /** The running invocation's fields, as Powertools' `injectLambdaContext` names them; none before the first. */
  fields(): Readonly<Record<string, unknown>>;
}

/**
 * Tracks the running invocation of a container (Lambda runs one at a time in each), so that every line a
 * {@link createLambdaLogger} writes names it: `cold_start` (the container's first invocation), `function_arn`,
 * `function_memory_size`, `function_name` and `function_request_id`, as Powertools writes them.
 */
export function createInvocationContext(): InvocationContext {
  let fields: Readonly<Record<string, unknown>> = {};
  let coldStart = true;
  return {
    start(invocation) {
      // A caller other than Lambda (a test, a tool running the bundle) may give a part of the context only.
      const given = (name: string, value: unknown) => (value === undefined ? {} : { [name]: value });
      fields = {
        cold_start: coldStart,
        ...given('function_arn', invocation?.invokedFunctionArn),
        ...given(
          'function_memory_size',
          invocation?.memoryLimitInMB === undefined ? undefined : Number(invocation.memoryLimitInMB),
        ),
        ...given('function_name', invocation?.functionName),
        ...given('function_request_id', invocation?.awsRequestId),
      };
      coldStart = false;
    },
    fields: () => fields,
  };
}

/** Adapts a Powertools logger (the deployed functions') to {@link Logger}. */
export function fromPowertools(logger: {
  debug(message: string, extra: Record<string, unknown>): void;
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}): Logger {
  return {
    debug: (message, fields = {}) => logger.debug(message, fields),
    info: (message, fields = {}) => logger.info(message, fields),
    warn: (message, fields = {}) => logger.warn(message, fields),
    error: (message, fields = {}) => logger.error(message, fields),
  };
}
