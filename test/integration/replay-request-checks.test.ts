import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import {
  type ReplayRequest,
  ReplayRequestError,
  rangeOfRequest,
  replayLeg,
} from '../../functions/replay-events/replay-events';
import { HttpDestination } from '../../lib/destinations/http';
import { RangeReader } from '../../lib/replay/range-reader';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';
import { DAY_END, DAY_START, storeReplayDay } from '../support/replay-events';

/** A client of the local server whose requests are counted: a refused request must read nothing. */
function countedClient() {
  const client = localClients().dynamodb;
  const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
  const counter = { reads: 0 };
  Object.assign(client, {
    send: (...args: unknown[]) => {
      counter.reads++;
      return send(...args);
    },
  });
  return { client: client as DynamoDBClient, counter };
}

const request = (fields: Partial<ReplayRequest>): ReplayRequest =>
  ({ since: DAY_START, until: DAY_END, to: 'http', ...fields }) as ReplayRequest;

describe('the replay function refuses a request the CLI would refuse', () => {
  it('refuses an impossible calendar day or time (2026-02-29, 2026-04-31) instead of reading the next day', () => {
    for (const [since, until] of [
      ['2026-02-29', '2026-03-02'],
      ['2026-04-31', '2026-05-02'],
      ['2026-03-01', '2026-04-31'],
      ['2026-02-30T10:00:00Z', '2026-03-02'],
    ]) {
      expect(() => rangeOfRequest(request({ since, until }))).toThrow(ReplayRequestError);
    }
    expect(() => rangeOfRequest(request({ since: '2026-02-29' }))).toThrow(
      'since must be an ISO 8601 date or date-time, got "2026-02-29"',
    );
    expect(() => rangeOfRequest(request({ since: '2024-02-29', until: '2024-03-01' }))).not.toThrow();
  });

  it('refuses a range over 400 days, saying to split it, and takes one of 400', () => {
    expect(() => rangeOfRequest(request({ since: '0001-01-01', until: '9999-12-31' }))).toThrow(
      /over 400 days.*split/,
    );
    expect(() => rangeOfRequest(request({ since: '2025-01-01', until: '2026-02-05' }))).toThrow(
      ReplayRequestError,
    );
    expect(() => rangeOfRequest(request({ since: '2025-01-01', until: '2026-02-04' }))).not.toThrow();
  });

  it('refuses a destination named like an object property (constructor, __proto__, toString) before reading anything', async () => {
    const { tableName, writer, counters } = await createTestTable(localClients().dynamodb);
    await storeReplayDay(writer, counters, { campaignA: 3, campaignB: 0, authentications: 0, symphony: 0 });
    const { client, counter } = countedClient();
    const deps = {
      reader: new RangeReader({ client, tableName, layout: DEFAULT_LAYOUT }),
      destinations: { http: new HttpDestination({ url: 'http://127.0.0.1:9/unused' }) },
      remainingMs: () => 900_000,
      reserveMs: 1,
      continueWith: async () => {},
    };
    for (const to of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      await expect(replayLeg(request({ to: to as ReplayRequest['to'] }), deps)).rejects.toThrow(
        ReplayRequestError,
      );
    }
    expect(counter.reads).toBe(0);
  });
});

describe('events replay refuses a range over 400 days', () => {
  it('exits 2 with one line saying to split the range, reading nothing', async () => {
    const { tableName } = await createTestTable(localClients().dynamodb);
    for (const [since, until, ...extra] of [
      ['2025-01-01', '2026-02-05', '--dry-run'],
      ['0001-01-01', '9999-12-31', '--dry-run'],
      ['0001-01-01', '9999-12-31', '--to', 'http', '--target', 'http://127.0.0.1:9/unused'],
    ] as [string, string, ...string[]][]) {
      const run = await eventsOn(tableName, ['replay', '--since', since, '--until', until, ...extra]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      const lines = run.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/--since.*--until.*over 400 days.*split/);
    }
  });
});
