import {
  DEPLOYED_LOG_LEVEL,
  type EnvironmentOf,
  loadProcessConfig,
  type ProcessConfig,
  type TableSettings,
  type TableVariables,
  tableVariables,
} from '../../lib/config';

/** The counter repair's environment as the stack writes it. */
export interface RepairVariables extends TableVariables {
  POWERTOOLS_LOG_LEVEL: string;
}

/** @returns the counter repair's environment, which {@link readRepairConfig} reads back. */
export function repairVariables(settings: { table: TableSettings }): RepairVariables {
  return { ...tableVariables(settings.table), POWERTOOLS_LOG_LEVEL: DEPLOYED_LOG_LEVEL };
}

/** What the counter repair reads: the table, and when a counter claim counts as abandoned. */
export type RepairConfig = Omit<ProcessConfig, 'dlqUrl'>;

/**
 * Reads the counter repair's configuration: the table as the consumer writes it, and the same age after which
 * the consumer's counter claims are abandoned (`COUNTER_STALE_SECONDS`), so that both agree on it.
 * @throws {ConfigError} at cold start when `TABLE_NAME` is missing or a value is malformed.
 */
export function readRepairConfig(
  env: EnvironmentOf<RepairVariables & { COUNTER_STALE_SECONDS: string }> = process.env,
): RepairConfig {
  const { tableName, layout, staleAfterMs } = loadProcessConfig(env);
  return { tableName, layout, staleAfterMs };
}
