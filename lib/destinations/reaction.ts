import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { EventRecord } from '../events/event-record';
import { backoff, type Destination, DestinationError, sleep } from './destination';

/** A reaction: the default export of the user's module, run with one stored record. */
export type ReactionFunction = (event: EventRecord) => unknown;

/** The reaction module could not be used. */
export class ReactionModuleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReactionModuleError';
  }
}

/**
 * Loads a reaction module as `npm start` loads `ON_EVENT_MODULE`: the file at `path` (relative to the working
 * directory), its default export a function taking one stored record.
 * @throws {ReactionModuleError} when it cannot be loaded or has no default export function.
 */
export async function loadReactionModule(path: string): Promise<ReactionFunction> {
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (error) {
    const reason = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
    throw new ReactionModuleError(`reaction module ${path} could not be loaded: ${reason}`);
  }
  if (typeof module.default !== 'function')
    throw new ReactionModuleError(`${path} has no default export function`);
  return module.default as ReactionFunction;
}

/** The reaction a {@link ReactionDestination} runs, and how often it tries. */
export interface ReactionDestinationOptions {
  run: ReactionFunction;
  /** The module's path, for messages. */
  path: string;
  /** Runs of a throwing reaction before the record is given up (default 5, as `npm start` runs them). */
  attempts?: number;
  /** The first pause before a run again (default 100 ms), doubled at each one. */
  backoffMs?: number;
}

/**
 * Runs a reaction for each record, one after the other, as the local stack runs it for a first insert: the same
 * function, given the same record (its `id` is the record id to be idempotent on). A reaction that keeps throwing
 * stops the call, so a replay stops there and resumes from its checkpoint.
 */
export class ReactionDestination implements Destination {
  readonly kind = 'reaction' as const;
  readonly target: string;
  private readonly attempts: number;
  private readonly backoffMs: number;

  constructor(private readonly options: ReactionDestinationOptions) {
    this.target = options.path;
    this.attempts = Math.max(1, options.attempts ?? 5);
    this.backoffMs = options.backoffMs ?? 100;
  }

  /** @throws {DestinationError} for the first record whose reaction threw at every run. */
  async send(records: readonly EventRecord[]): Promise<void> {
    for (const record of records) {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.options.run(record);
          break;
        } catch (error) {
          if (attempt >= this.attempts) {
            throw new DestinationError(
              `reaction ${this.options.path} failed for record ${record.id} ${attempt} times: ${error instanceof Error ? error.message : String(error)}`,
              [record.id],
              { cause: error },
            );
          }
          await sleep(backoff(attempt + 1, this.backoffMs));
        }
      }
    }
  }
}
