import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { type CampaignDayStats, CampaignStats } from '../../lib/queries/campaign-stats';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { toAsciiJson } from '../../lib/queue/event-queue';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { signBody } from '../../lib/signature/verify-signature';
import { JOURNAL_DIR, localClientConfig, queueDepth } from '../../local/local-stack';
import { mulberry32 } from '../../scripts/load';
import { soriBody } from '../support/deliveries';
import { eventually } from '../support/local-aws';
import { exited, type StackProcess, spawnScript, startStackProcess } from '../support/stack-process';

const SECRET = 'sk_crash_test';
const DAY = '2025-10-14';
const CAMPAIGNS = ['cmp_crash_a', 'cmp_crash_b', 'cmp_crash_c', 'cmp_crash_d'];
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface SoriEvent {
  event: 'campaign.impression' | 'campaign.click';
  campaign: string;
  device: string;
  body: Record<string, unknown>;
}

/** Distinct impressions and clicks over a few campaigns and devices, as SORI sends them. */
function makeEvents(random: () => number, count: number): SoriEvent[] {
  return Array.from({ length: count }, (_, i) => {
    const campaign = CAMPAIGNS[Math.floor(random() * CAMPAIGNS.length)] as string;
    const device = `device_crash_${Math.floor(random() * 30)}`;
    const event = random() < 0.3 ? ('campaign.click' as const) : ('campaign.impression' as const);
    const created = new Date(
      Date.parse(`${DAY}T00:00:00Z`) + Math.floor(random() * 86_000_000),
    ).toISOString();
    const body = {
      event,
      account_id: 'acc_123456',
      created_at: created,
      activity_id: `act_crash_${i}`,
      device_id: device,
      platform: random() < 0.5 ? 'Android' : 'iOS',
      campaign: { id: campaign, name: 'Fall Promotion', tags: ['retail'], image: null },
      material: { id: 'mat_5678', name: 'Audio Spot 15s', tags: ['audio'], image: null },
      timestamp: created,
    };
    return { event, campaign, device, body };
  });
}

const readers = (stack: StackProcess) => {
  const client = new DynamoDBClient(localClientConfig(stack.info.dynamodbEndpoint));
  return {
    client,
    records: new RecordsRepository(client, stack.info.tableName, stack.info.layout),
    counters: new CampaignStats(client, stack.info.tableName),
  };
};

describe('crash: the local stack killed mid-burst (a real process, SIGKILL)', () => {
  it('stores every delivery answered 202 exactly once across 3 kills and restarts on the same DATA_DIR, with counters equal to the records on every read path', async () => {
    console.log(`crash test seed: ${seed} (CRASH_SEED=${seed} replays it)`);
    const random = mulberry32(seed);
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-crash-'));
    dirs.push(dataDir);

    const events = makeEvents(random, 260);
    // About 30 % more deliveries are SORI retries of an event: same event, a new dispatch timestamp.
    const deliveries = events.map((event) => JSON.stringify(event.body));
    for (let i = 0; i < Math.round(events.length * 0.43); i++) {
      const event = events[Math.floor(random() * events.length)] as SoriEvent;
      deliveries.push(JSON.stringify({ ...event.body, timestamp: new Date(Date.now() + i).toISOString() }));
    }
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j] as string, deliveries[i] as string];
    }

    const accepted = new Map<number, string>();
    let pending = deliveries.map((_, i) => i);
    const kills = 3;
    let stack = await startStackProcess(dataDir, { SORI_SECRET_KEY: SECRET });

    /** Sends what is pending until all is answered 202 or `stopAfter` answers have come. */
    const burst = async (url: string, stopAfter: number, onAnswer: (n: number) => void) => {
      const queue = pending;
      const failed: number[] = [];
      let answers = 0;
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < queue.length && answers < stopAfter) {
            const index = queue[next++] as number;
            const body = deliveries[index] as string;
            try {
              const response = await fetch(url, {
                method: 'POST',
                headers: {
                  'content-type': 'application/json',
                  'x-sori-signature': signBody(body, SECRET).toString('hex'),
                },
                body,
              });
              const answer = (await response.json()) as { id?: string };
              if (response.status === 202 && answer.id) {
                accepted.set(index, answer.id);
                onAnswer(++answers);
              } else failed.push(index);
            } catch {
              // The connection died with the process: the sender retries, as SORI would.
              failed.push(index);
            }
          }
        }),
      );
      pending = [...failed, ...queue.slice(next)];
    };

    for (let round = 0; round < kills; round++) {
      const killAfter = 20 + Math.floor(random() * 60);
      const jitterMs = Math.floor(random() * 15);
      let killing: Promise<unknown> | undefined;
      const victim = stack;
      await burst(victim.info.webhookUrl, Number.POSITIVE_INFINITY, (n) => {
        if (n === killAfter)
          killing = new Promise((resolve) => setTimeout(resolve, jitterMs)).then(() =>
            victim.kill('SIGKILL'),
          );
      });
      const result = (await killing) as Awaited<ReturnType<StackProcess['kill']>> | undefined;
      expect(result?.signal, 'the stack was killed mid-burst').toBe('SIGKILL');
      stack = await startStackProcess(dataDir, { SORI_SECRET_KEY: SECRET });
    }
    expect(pending.length, 'deliveries left for after the kills').toBeGreaterThan(0);

    // A graceful stop in the middle of a burst: bounded, and nothing accepted is lost either.
    let stopping: Promise<Awaited<ReturnType<StackProcess['kill']>>> | undefined;
    const beforeStop = stack;
    await burst(beforeStop.info.webhookUrl, Number.POSITIVE_INFINITY, (n) => {
      if (n === 20) stopping = beforeStop.kill('SIGTERM');
    });
    const stopped = await stopping;
    expect(stopped?.code, beforeStop.stderr()).toBe(0);
    expect(stopped?.ms).toBeLessThan(10_000);

    stack = await startStackProcess(dataDir, { SORI_SECRET_KEY: SECRET });
    for (let attempt = 0; pending.length > 0 && attempt < 5; attempt++) {
      await burst(stack.info.webhookUrl, Number.POSITIVE_INFINITY, () => undefined);
    }
    expect(pending).toEqual([]);

    // Every event was eventually accepted; retries of one event were answered with its one id.
    const ids = new Set(accepted.values());
    expect(ids.size).toBe(events.length);

    const { client, records, counters } = readers(stack);
    try {
      const storedIds = async () =>
        (
          await Promise.all(
            CAMPAIGNS.map((campaign) => records.queryEvents({ provider: 'sori', campaign, limit: 100_000 })),
          )
        )
          .flat()
          .map((event) => event.id);
      const stored = await eventually(
        async () => {
          const found = await storedIds();
          return found.length >= ids.size ? found : undefined;
        },
        30_000,
        'every accepted delivery stored',
      ).catch(() => storedIds());
      expect(stored.length, 'stored records (no loss, no doubles)').toBe(ids.size);
      expect(new Set(stored)).toEqual(ids);

      const expected: CampaignDayStats[] = CAMPAIGNS.map((campaign) => {
        const mine = events.filter((event) => event.campaign === campaign);
        const impressions = mine.filter((event) => event.event === 'campaign.impression').length;
        const clicks = mine.length - impressions;
        return {
          provider: 'sori',
          campaign_id: campaign,
          day: DAY,
          impressions,
          clicks,
          unique_devices: new Set(mine.map((event) => event.device)).size,
          ctr: impressions > 0 ? clicks / impressions : null,
        };
      });
      const counts = (rows: CampaignDayStats[]) =>
        rows
          .map(({ campaign_id, day, impressions, clicks, unique_devices }) => ({
            campaign_id,
            day,
            impressions,
            clicks,
            unique_devices,
          }))
          .sort((a, b) => a.campaign_id.localeCompare(b.campaign_id));
      const want = counts(expected);
      const readPaths = async () => {
        const dashboard = (await (
          await fetch(`http://127.0.0.1:${new URL(stack.info.webhookUrl).port}/api/dashboard?day=${DAY}`)
        ).json()) as { campaigns: CampaignDayStats[] };
        return {
          campaignStats: counts(
            (await Promise.all(CAMPAIGNS.map((campaign) => counters.campaignStats('sori', campaign)))).flat(),
          ),
          dayStats: counts(await counters.dayStats('sori', DAY)),
          dashboard: counts(dashboard.campaigns.filter((row) => row.provider === 'sori')),
        };
      };
      const wanted = { campaignStats: want, dayStats: want, dashboard: want };
      // Counters a killed batch left half-done converge through the stack's counter repair.
      await eventually(
        async () => (JSON.stringify(await readPaths()) === JSON.stringify(wanted) ? true : undefined),
        30_000,
        'counters equal to the records',
      ).catch(() => undefined);
      expect(await readPaths()).toEqual(wanted);
    } finally {
      client.destroy();
    }

    // Once everything is consumed, the running stack compacts its journal down to the segment it writes to.
    await eventually(
      async () => ((await readdir(join(dataDir, JOURNAL_DIR))).length === 1 ? true : undefined),
      10_000,
      'the journal compacted',
    );
    const final = await stack.kill('SIGINT');
    expect(final.code, stack.stderr()).toBe(0);
    expect(final.ms).toBeLessThan(10_000);
    // Everything consumed and nothing dead: a clean stop leaves an empty journal.
    expect(await readdir(join(dataDir, JOURNAL_DIR))).toEqual([]);
  }, 90_000);
});

/** What the stack's DLQ holds, once it holds anything (left on it). */
async function deadLetters(stack: StackProcess) {
  const sqs = new SQSClient(localClientConfig(stack.info.sqsEndpoint));
  try {
    await eventually(
      async () => ((await queueDepth(sqs, stack.info.dlqUrl)) > 0 ? true : undefined),
      15_000,
      'a dead letter',
    );
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: stack.info.dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
      }),
    );
    return Messages.map((m) => m.Body);
  } finally {
    sqs.destroy();
  }
}

/** A journal as a crash leaves it: a delivery, and one the consumer always fails (not JSON). */
async function journalWithPoison(dataDir: string) {
  const message = buildQueueMessage(sori, Buffer.from(soriBody('impression')), new Date().toISOString());
  await mkdir(join(dataDir, JOURNAL_DIR), { recursive: true, mode: 0o700 });
  return `${JSON.stringify({ q: 'events', b: toAsciiJson(message) })}\n${JSON.stringify({ q: 'events', b: 'poison' })}\n`;
}

describe('crash: what else a killed stack leaves behind', () => {
  it('keeps dead letters across a SIGKILL and skips a journal record torn by a crash, storing the rest', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-crash-'));
    dirs.push(dataDir);
    // A journal as a crash leaves it: a delivery, one the consumer always fails, and a last record cut short.
    await writeFile(
      join(dataDir, JOURNAL_DIR, '0000000001.log'),
      `${await journalWithPoison(dataDir)}{"q":"events","b":"{\\"kind`,
      { mode: 0o600 },
    );
    const script = 'test/support/stack-entry.ts';
    let stack = await startStackProcess(dataDir, {}, script);
    expect(await deadLetters(stack)).toEqual(['poison']);
    const { client, records } = readers(stack);
    expect(await records.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 })).toHaveLength(1);
    client.destroy();
    // Long enough for the journal's compaction (every second) to have dropped the segment, were it careless.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await stack.kill('SIGKILL')).signal).toBe('SIGKILL');

    stack = await startStackProcess(dataDir, {}, script);
    expect(await deadLetters(stack), 'the dead letter after a SIGKILL').toEqual(['poison']);
    expect((await stack.kill('SIGTERM')).code).toBe(0);

    stack = await startStackProcess(dataDir, {}, script);
    expect(await deadLetters(stack), 'the dead letter after a graceful stop').toEqual(['poison']);
    await stack.kill('SIGTERM');
  }, 60_000);

  it('compacts its journal under continuous traffic (about 100 deliveries a second) while a dead letter waits, and a SIGKILL after that loses neither the dead letter nor an accepted delivery', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-crash-'));
    dirs.push(dataDir);
    const journal = join(dataDir, JOURNAL_DIR);
    await writeFile(join(journal, '0000000001.log'), await journalWithPoison(dataDir), { mode: 0o600 });
    const script = 'test/support/stack-entry.ts';
    let stack = await startStackProcess(dataDir, { SORI_SECRET_KEY: SECRET }, script);
    expect(await deadLetters(stack)).toEqual(['poison']);
    const before = await readdir(journal);

    const accepted = new Set<string>();
    let sending = true;
    const url = stack.info.webhookUrl;
    // Ten senders, each a delivery every 100 ms: no pause in the traffic for a compaction to wait for.
    const senders = Array.from({ length: 10 }, async (_, sender) => {
      for (let i = 0; sending; i++) {
        const started = performance.now();
        const body = JSON.stringify({
          ...JSON.parse(soriBody('impression')),
          activity_id: `act_traffic_${sender}_${i}`,
          campaign: { id: 'cmp_traffic', name: 'Traffic', tags: [], image: null },
        });
        try {
          const response = await fetch(url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'x-sori-signature': signBody(body, SECRET).toString('hex'),
            },
            body,
          });
          const answer = (await response.json()) as { id?: string };
          if (response.status === 202 && answer.id) accepted.add(answer.id);
        } catch {
          // The stack was killed: what it answered 202 is what counts.
        }
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (performance.now() - started))));
      }
    });
    try {
      await eventually(
        async () => {
          const now = await readdir(journal);
          return accepted.size > 0 && before.every((name) => !now.includes(name)) ? true : undefined;
        },
        20_000,
        'the journal compacted while deliveries keep coming and the dead letter waits',
      );
      // The kill comes in the middle of the traffic, after the compaction.
      const atCompaction = accepted.size;
      await eventually(
        async () => (accepted.size >= atCompaction + 50 ? true : undefined),
        20_000,
        'more traffic',
      );
      expect((await stack.kill('SIGKILL')).signal).toBe('SIGKILL');
    } finally {
      sending = false;
      await Promise.all(senders);
    }

    stack = await startStackProcess(dataDir, { SORI_SECRET_KEY: SECRET }, script);
    try {
      expect(await deadLetters(stack), 'the dead letter after a compaction and a SIGKILL').toEqual([
        'poison',
      ]);
      const { client, records } = readers(stack);
      try {
        const stored = async () =>
          new Set(
            (await records.queryEvents({ provider: 'sori', campaign: 'cmp_traffic', limit: 100_000 })).map(
              (event) => event.id,
            ),
          );
        const missing = async () => {
          const found = await stored();
          return [...accepted].filter((id) => !found.has(id));
        };
        await eventually(
          async () => ((await missing()).length === 0 ? true : undefined),
          30_000,
          'every accepted delivery stored',
        ).catch(() => undefined);
        // Deliveries whose answer the kill cut off may be stored too: a sender retries those anyway.
        expect(await missing()).toEqual([]);
      } finally {
        client.destroy();
      }
    } finally {
      await stack.kill('SIGTERM');
    }
  }, 90_000);

  it('refuses a second start on a busy DATA_DIR in one line on stderr with exit code 2; secret-holding files are 0600', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-crash-'));
    dirs.push(dataDir);
    const first = await startStackProcess(dataDir);
    try {
      const second = spawnScript('local/start.ts', { PORT: '0', DATA_DIR: dataDir });
      let stderr = '';
      second.stderr?.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      second.stdout?.resume();
      expect((await exited(second)).code).toBe(2);
      expect(stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(new RegExp(`in use by another campaign-inbox \\(pid ${first.child.pid}\\)`)),
      ]);
      // The first stack is untouched.
      expect((await fetch(`http://127.0.0.1:${new URL(first.info.webhookUrl).port}/healthz`)).status).toBe(
        200,
      );

      expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
      for (const file of ['dev-secret', 'dev-url-tokens.json', 'local-stack.json', 'lock']) {
        expect((await stat(join(dataDir, file))).mode & 0o777, file).toBe(0o600);
      }
      expect((await stat(join(dataDir, JOURNAL_DIR))).mode & 0o777).toBe(0o700);
      for (const segment of await readdir(join(dataDir, JOURNAL_DIR))) {
        expect((await stat(join(dataDir, JOURNAL_DIR, segment))).mode & 0o777, segment).toBe(0o600);
      }
    } finally {
      await first.kill('SIGTERM');
    }
  });
});
