import {
  DEPLOYED_LOG_LEVEL,
  type EnvironmentOf,
  type ProviderSettings,
  type ProviderVariables,
  providerVariables,
  readTable,
  type TableSettings,
  type TableVariables,
  tableVariables,
} from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { type Level, levelFrom } from '../../lib/log';
import { registerCustomProviders } from '../../lib/providers/declarative';
import type { TableLayout } from '../../lib/table/records-table';

/** The digest function's environment as the stack writes it. */
export interface DigestVariables extends TableVariables, ProviderVariables {
  /** The alarms' topic, which the digest is published to. */
  TOPIC_ARN: string;
  /** Delivery health: the receive function's refusal metrics (their namespace and `service`), and the DLQ. */
  METRICS_NAMESPACE: string;
  RECEIVE_METRICS_SERVICE: string;
  DLQ_URL?: string;
  POWERTOOLS_LOG_LEVEL: string;
}

/** What the stack knows when it writes the digest function's environment. */
export interface DigestSettings {
  table: TableSettings;
  topicArn: string;
  health: { namespace: string; service: string; dlqUrl?: string | undefined };
  providers: ProviderSettings;
}

/** @returns the digest function's environment, which {@link readDigestEnvironment} reads back. */
export function digestVariables(settings: DigestSettings): DigestVariables {
  return {
    ...tableVariables(settings.table),
    TOPIC_ARN: settings.topicArn,
    METRICS_NAMESPACE: settings.health.namespace,
    RECEIVE_METRICS_SERVICE: settings.health.service,
    ...providerVariables(settings.providers),
    ...(settings.health.dlqUrl ? { DLQ_URL: settings.health.dlqUrl } : {}),
    POWERTOOLS_LOG_LEVEL: DEPLOYED_LOG_LEVEL,
  };
}

export interface DigestEnvironment {
  tableName: string;
  layout: TableLayout;
  topicArn: string;
  logLevel: Level;
}

type Env = EnvironmentOf<DigestVariables & { LOG_LEVEL: string }>;

/**
 * Reads the digest function's environment, once per container: the table (`TABLE_NAME`, `SHARDS`,
 * `RECORD_RETENTION_DAYS`) and the topic (`TOPIC_ARN`). It serves the configured providers (`CUSTOM_PROVIDERS`)
 * first, so that their campaigns are counted as theirs; where delivery health is read (`METRICS_NAMESPACE`,
 * `RECEIVE_METRICS_SERVICE`, `PROVIDERS`, `DLQ_URL`) is `loadPipelineHealthConfig`'s, read after it.
 * @throws {ConfigError} at cold start when something is missing or malformed.
 */
export function readDigestEnvironment(env: Env = process.env): DigestEnvironment {
  registerCustomProviders(env.CUSTOM_PROVIDERS);
  const topicArn = env.TOPIC_ARN;
  if (!topicArn || !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(topicArn))
    throw new ConfigError(
      `environment variable TOPIC_ARN must be an SNS topic ARN, got ${JSON.stringify(topicArn)}`,
    );
  return {
    ...readTable(env),
    topicArn,
    logLevel: levelFrom(env.POWERTOOLS_LOG_LEVEL ?? env.LOG_LEVEL),
  };
}
