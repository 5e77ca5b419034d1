/**
 * The local lake's rows say what each event counted as when it was received, written live by the sink as the
 * consumer stores a batch and rebuilt from the table alike: events received under a SORI whose counted map differs
 * from the registry's (impressions and clicks swapped, as a changed configuration would make them) are stored
 * through the consumer's ingest port into the local DynamoDB-API server while the registry serves the real SORI.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../lib/events/event-record';
import { createIngest } from '../../lib/ingest/ingest';
import type { LakeRow } from '../../lib/lake/lake-row';
import type { Provider } from '../../lib/providers/provider';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { LakeSink } from '../../local/lake-sink';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();

/** SORI as a changed configuration would have it: its impressions counted as clicks, its clicks as impressions. */
const swapped: Provider = {
  ...sori,
  counted: { 'campaign.impression': 'clicks', 'campaign.click': 'impressions' },
};

const received = (provider: Provider, kind: 'impression' | 'click' | 'authentication', activity: string) => {
  const base = soriPayload(kind);
  return buildQueueMessage(
    provider,
    Buffer.from(JSON.stringify({ ...base, activity_id: activity })),
    '2026-01-01T00:00:00.000Z',
  );
};

async function rowsIn(dir: string): Promise<LakeRow[]> {
  const rows: LakeRow[] = [];
  for (const file of (await readdir(dir, { recursive: true })).filter((name) => name.endsWith('.jsonl'))) {
    for (const line of (await readFile(join(dir, file), 'utf8')).split('\n'))
      if (line) rows.push(JSON.parse(line));
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

describe('the local lake sink', () => {
  it('writes live rows with the counter each event was received as, the same rows it rebuilds from the table, after the provider’s map changed', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const live = await mkdtemp(join(tmpdir(), 'campaign-inbox-lake-live-'));
    const rebuilt = await mkdtemp(join(tmpdir(), 'campaign-inbox-lake-rebuilt-'));
    try {
      const sink = new LakeSink(live);
      const ingest = createIngest({ writer, counters, onStored: sink.onStored });
      const batch: QueueMessage[] = [
        received(swapped, 'impression', 'act_sw_1'),
        received(swapped, 'click', 'act_sw_2'),
        received(swapped, 'authentication', 'act_sw_3'),
      ];
      expect((await ingest.store(batch)).every((outcome) => outcome.ok)).toBe(true);
      const rows = await rowsIn(live);
      expect(rows.map((row) => [row.event, row.counter]).sort()).toEqual([
        ['authentication', null],
        ['campaign.click', 'impressions'],
        ['campaign.impression', 'clicks'],
      ]);
      expect(await new LakeSink(rebuilt).backfill(dynamodb, tableName)).toBe(3);
      expect(await rowsIn(rebuilt)).toEqual(rows);
    } finally {
      await rm(live, { recursive: true, force: true });
      await rm(rebuilt, { recursive: true, force: true });
    }
  });
});
