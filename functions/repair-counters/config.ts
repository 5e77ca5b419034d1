import {
  DEPLOYED_LOG_LEVEL,
  type EnvironmentOf,
  loadProcessConfig,
  type ProcessConfig,
  type TableSettings,
  type TableVariables,
  tableVariables,
} from '../../lib/config';
import { type Level, levelFrom } from '../../lib/log';
import {
  readSignalThresholds,
  type SignalThresholds,
  type SignalVariables,
  signalVariables,
} from '../../lib/signals/thresholds';

/** The counter repair's environment as the stack writes it. */
export interface RepairVariables extends TableVariables, SignalVariables {
  POWERTOOLS_LOG_LEVEL: string;
}

/**
 * @returns the counter repair's environment, which {@link readRepairConfig} reads back; with `signals`, the
 *   fraud and quality signals' thresholds its fold applies.
 */
export function repairVariables(settings: {
  table: TableSettings;
  signals?: SignalThresholds;
}): RepairVariables {
  return {
    ...tableVariables(settings.table),
    ...(settings.signals ? signalVariables(settings.signals) : {}),
    POWERTOOLS_LOG_LEVEL: DEPLOYED_LOG_LEVEL,
  };
}

/** What the counter repair reads: the table, when a counter claim counts as abandoned, and its log level. */
export interface RepairConfig extends Omit<ProcessConfig, 'dlqUrl'> {
  logLevel: Level;
  /** The fraud and quality signals' thresholds (defaults for those unset). */
  signals: SignalThresholds;
}

/**
 * Reads the counter repair's configuration: the table as the consumer writes it, the same age after which the
 * consumer's counter claims are abandoned (`COUNTER_STALE_SECONDS`), so that both agree on it, and the log level.
 * @throws {ConfigError} at cold start when `TABLE_NAME` is missing or a value is malformed.
 */
export function readRepairConfig(
  env: EnvironmentOf<RepairVariables & { COUNTER_STALE_SECONDS: string; LOG_LEVEL: string }> = process.env,
): RepairConfig {
  const { tableName, layout, staleAfterMs } = loadProcessConfig(env);
  return {
    tableName,
    layout,
    staleAfterMs,
    logLevel: levelFrom(env.POWERTOOLS_LOG_LEVEL ?? env.LOG_LEVEL),
    signals: readSignalThresholds(env),
  };
}
