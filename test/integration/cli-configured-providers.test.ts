import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findProvider } from '../../lib/providers';
import { registerCustomProviders } from '../../lib/providers/declarative';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { runTool } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

// The tools as their own processes (`npm run -s events --`, `npm run -s set-secret --`), each given the
// providers configured in CUSTOM_PROVIDERS by its environment alone.

const DOCS = readFileSync(join(import.meta.dirname, '../../docs/custom-providers.md'), 'utf8');
const EXAMPLE = /```json\n([\s\S]*?)\n```/.exec(
  DOCS.slice(DOCS.indexOf('<!-- example: CUSTOM_PROVIDERS -->')),
)?.[1] as string;

const { dynamodb } = localClients();

// This process needs the providers only to build the record the tool is to find.
beforeAll(() => registerCustomProviders(EXAMPLE));
afterAll(() => registerCustomProviders(undefined));

describe('the tools with CUSTOM_PROVIDERS', () => {
  it('events query --provider <a configured name> finds that provider’s records', {
    timeout: 60_000,
  }, async () => {
    const table = await createTestTable(dynamodb);
    const beacon = findProvider('beacon');
    if (!beacon) throw new Error('the example configures no beacon');
    const body = JSON.stringify({
      type: 'impression.recorded',
      timestamp: '2026-05-04T10:00:00.000Z',
      data: { campaign_id: 'cmp_cli_beacon', device_id: 'dev_cli' },
    });
    const message = buildQueueMessage(beacon, Buffer.from(body), '2026-05-04T10:00:01.000Z', {
      id: 'msg_cli_beacon_1',
    });
    await storeAndFold(table.writer, table.counters, [message]);
    const where = ['--endpoint', inject('dynamodbEndpoint'), '--table', table.tableName];
    const day = ['--since', '2026-05-04', '--until', '2026-05-04'];
    const result = await runTool('events', ['query', '--provider', 'beacon', ...day, '--json', ...where], {
      CUSTOM_PROVIDERS: EXAMPLE,
    });
    expect(result.code, result.stderr).toBe(0);
    const records = result.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((record) => [record.provider, record.campaign_id, record.activity_id])).toEqual([
      ['beacon', 'cmp_cli_beacon', 'msg_cli_beacon_1'],
    ]);
  });

  it('events refuses a wrong configuration in one line naming the provider and the field', {
    timeout: 60_000,
  }, async () => {
    const wrong = JSON.stringify([
      { name: 'beacon', scheme: 'standard-webhooks', fields: { event: 'type' } },
    ]);
    const result = await runTool(
      'events',
      ['query', '--provider', 'beacon', '--endpoint', 'http://127.0.0.1:9'],
      {
        CUSTOM_PROVIDERS: wrong,
      },
    );
    expect(result.code).not.toBe(0);
    expect(result.stderr).toBe('events: CUSTOM_PROVIDERS: provider "beacon", fields.campaign: required\n');
  });

  it('set-secret --provider <a configured name> is taken as a provider, not refused as unknown', {
    timeout: 60_000,
  }, async () => {
    // No stack answers at this endpoint: the tool gets past the provider's name and fails reading the stack.
    const result = await runTool('set-secret', ['--provider', 'acme-ads', '--region', 'us-east-1'], {
      CUSTOM_PROVIDERS: EXAMPLE,
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      AWS_MAX_ATTEMPTS: '1',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'set-secret: could not read the outputs of stack CampaignInbox: connect ECONNREFUSED 127.0.0.1:9\n',
    );
  });
});
