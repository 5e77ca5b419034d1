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
 */
export function createLambdaLogger(service: string, level: Level): Logger {
  const threshold = ORDER[level];
  const emit = (at: Level) => (message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < threshold) return;
    const entry: Record<string, unknown> = {
      level: at.toUpperCase(),
      message,
      service,
      timestamp: new Date().toISOString(),
      ...fields,
    };
    if (entry.error !== undefined) entry.error = describeError(entry.error);
    (at === 'warn' || at === 'error' ? process.stderr : process.stdout).write(`${JSON.stringify(entry)}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
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
