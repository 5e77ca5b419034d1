import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../lib/events/event-record';
import { createLogger } from '../../lib/log';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { itemKey } from '../../lib/table/records-table';
import { localClientConfig } from '../../local/local-stack';
import {
  REACTIONS_DIR,
  REACTIONS_FAILURES_FILE,
  REACTIONS_JOURNAL_FILE,
  Reactions,
} from '../../local/reactions';
import { mulberry32 } from '../../scripts/load';
import { hexSignature, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';
import { type StackProcess, startStackProcess } from '../support/stack-process';

const SECRET = 'sk_reactions_test';
const RECORD_IDS = resolve('test/fixtures/reactions/record-ids.ts');
const dirs: string[] = [];

afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir() {
  const dir = await mkdtemp(join(tmpdir(), 'campaign-inbox-reactions-'));
  dirs.push(dir);
  return dir;
}

/** `count` distinct SORI events, every other one a click, over a few devices. */
function makeBodies(prefix: string, count: number, devices = 7): string[] {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      ...soriPayload('impression'),
      event: i % 2 === 0 ? 'campaign.click' : 'campaign.impression',
      activity_id: `act_${prefix}_${i}`,
      device_id: `device_${i % devices}`,
      created_at: new Date().toISOString(),
    }),
  );
}

/** The bodies, about 30 % of them twice (the same delivery sent again), shuffled. */
function withDuplicates(bodies: string[], random: () => number): string[] {
  const deliveries = [...bodies, ...bodies.filter(() => random() < 0.3)];
  for (let i = deliveries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [deliveries[i], deliveries[j]] = [deliveries[j] as string, deliveries[i] as string];
  }
  return deliveries;
}

const recordOf = (body: string) => {
  const message = buildQueueMessage(sori, Buffer.from(body), new Date().toISOString());
  if (message.kind !== 'event') throw new Error('not an event');
  return message;
};
const clickIds = (bodies: string[]) =>
  bodies
    .map(recordOf)
    .filter((message) => message.record.event === 'campaign.click')
    .map((message) => message.record.id)
    .sort();

const send = async (url: string, body: string) =>
  (
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, SECRET) },
      body,
    })
  ).status;

const lines = <T>(file: string): T[] =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as T)
    : [];

/** The ids of the clicks stored in the stack's table. */
async function storedClicks(stack: StackProcess): Promise<string[]> {
  const client = new DynamoDBClient(localClientConfig(stack.info.dynamodbEndpoint));
  try {
    const ids: string[] = [];
    let start: Record<string, never> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: stack.info.tableName,
          FilterExpression: '#kind = :event AND #event = :click',
          ExpressionAttributeNames: { '#kind': 'kind', '#event': 'event' },
          ExpressionAttributeValues: { ':event': { S: 'event' }, ':click': { S: 'campaign.click' } },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) ids.push(item.id?.S ?? '');
      start = page.LastEvaluatedKey as Record<string, never> | undefined;
    } while (start);
    return ids.sort();
  } finally {
    client.destroy();
  }
}

describe('reactions in `npm start` (ON_EVENT_MODULE)', () => {
  it("runs the user's module once for each newly stored event of the chosen type, under a burst with 30 % duplicates", async () => {
    const dir = await dataDir();
    const file = join(dir, 'reactions.jsonl');
    const stack = await startStackProcess(dir, {
      SORI_SECRET_KEY: SECRET,
      ON_EVENT_MODULE: RECORD_IDS,
      ON_EVENT_TYPES: 'campaign.click',
      REACTIONS_FILE: file,
    });
    try {
      const bodies = makeBodies('reaction', 40);
      const deliveries = withDuplicates(bodies, mulberry32(3));
      const statuses = await Promise.all(deliveries.map((body) => send(stack.info.webhookUrl, body)));
      expect(statuses.every((status) => status === 202)).toBe(true);
      const clicks = clickIds(bodies);
      await eventually(
        async () => (lines(file).length >= clicks.length ? true : undefined),
        20_000,
        'a reaction for every click',
      );
      // A moment more, for any second call that would come late.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(
        lines<{ id: string }>(file)
          .map((line) => line.id)
          .sort(),
      ).toEqual(clicks);
      expect(await storedClicks(stack)).toEqual(clicks);
    } finally {
      await stack.kill('SIGTERM');
    }
  });

  it('notifies every stored click at least once, and nothing else, when the stack is SIGKILLed mid-batch during a burst with 30 % duplicates and restarted', async () => {
    const seed = Number(process.env.REACTIONS_SEED ?? 11);
    const random = mulberry32(seed);
    const dir = await dataDir();
    const file = join(dir, 'reactions.jsonl');
    const env = {
      SORI_SECRET_KEY: SECRET,
      ON_EVENT_MODULE: RECORD_IDS,
      ON_EVENT_TYPES: 'campaign.click',
      REACTIONS_FILE: file,
      // Slow enough that the kill finds reactions running and stored records not yet notified.
      REACTION_DELAY_MS: '100',
    };
    const bodies = makeBodies('crash', 160, 13);
    const deliveries = withDuplicates(bodies, random);
    let pending = deliveries.map((_, i) => i);
    let stack = await startStackProcess(dir, env);
    const firstPid = stack.child.pid;

    /** Sends what is pending, 8 at a time; what fails (the process died) stays pending, as a sender retries. */
    const burst = async (url: string) => {
      const queue = pending;
      const failed: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < queue.length) {
            const index = queue[next++] as number;
            const status = await send(url, deliveries[index] as string).catch(() => 0);
            if (status !== 202) failed.push(index);
          }
        }),
      );
      pending = failed;
    };

    try {
      // Killed once reactions are running (the consumer mid-batch), wherever the burst is by then.
      const killAfter = 3 + Math.floor(random() * 10);
      const victim = stack;
      const killing = (async () => {
        await eventually(
          async () => (lines(file).length >= killAfter ? true : undefined),
          30_000,
          'reactions running',
        );
        return victim.kill('SIGKILL');
      })();
      await burst(victim.info.webhookUrl);
      expect((await killing).signal, 'the stack was killed').toBe('SIGKILL');
      const beforeKill = lines<{ id: string }>(file).length;
      // What the kill cut off: intents written before a put and not settled (their reactions not run yet).
      const journal = lines<{ t: string; n: string }>(join(dir, REACTIONS_DIR, REACTIONS_JOURNAL_FILE));
      const settled = new Set(journal.filter((line) => line.t !== 'i').map((line) => line.n));
      const cutOff = journal.filter((line) => line.t === 'i' && !settled.has(line.n)).length;
      expect(cutOff, 'intents left pending by the kill').toBeGreaterThan(0);

      stack = await startStackProcess(dir, env);
      for (let attempt = 0; pending.length > 0 && attempt < 3; attempt++) await burst(stack.info.webhookUrl);
      expect(pending).toEqual([]);

      const clicks = clickIds(bodies);
      const stored = await eventually(
        async () => {
          const ids = await storedClicks(stack);
          return ids.length === clicks.length ? ids : undefined;
        },
        20_000,
        'every click stored',
      );
      expect(stored).toEqual(clicks);
      await eventually(
        async () =>
          new Set(lines<{ id: string }>(file).map((line) => line.id)).size >= clicks.length
            ? true
            : undefined,
        20_000,
        'a reaction for every stored click',
      );
      await new Promise((r) => setTimeout(r, 1_000));
      const seen = lines<{ id: string; pid: number }>(file);
      const ids = seen.map((line) => line.id);
      // Every stored click is noticed, and no id outside them is.
      expect([...new Set(ids)].sort()).toEqual(stored);
      const twice = ids.length - new Set(ids).size;
      console.log(
        `reactions crash test (REACTIONS_SEED=${seed}): killed after ${killAfter} reactions, ${beforeKill} reactions before the kill, ${cutOff} intents left pending, ${stored.length} clicks stored from ${deliveries.length} deliveries, ${ids.length} reactions, ${twice} ids notified twice`,
      );
      // A second notification can only come from a reaction cut off by the kill, run again after it: never
      // from a duplicate delivery, so there are at most as many as reactions were running when it came.
      expect(seen.some((line) => line.pid === firstPid)).toBe(true);
      expect(twice).toBeLessThanOrEqual(16);
    } finally {
      if (stack.child.exitCode === null && stack.child.signalCode === null) await stack.kill('SIGTERM');
    }
  }, 60_000);

  it('on start, runs the reaction for an intent whose delivery stored the item, and drops a duplicate delivery, one never stored and one already done', async () => {
    const dir = await dataDir();
    const file = join(dir, 'reactions.jsonl');
    const [first, second, never] = makeBodies('replay', 5).filter((_, i) => i % 2 === 0) as [
      string,
      string,
      string,
    ];
    // Two clicks stored by a stack without reactions.
    let stack = await startStackProcess(dir, { SORI_SECRET_KEY: SECRET });
    let items: { id: string; received_at: string }[];
    try {
      expect(await send(stack.info.webhookUrl, first)).toBe(202);
      expect(await send(stack.info.webhookUrl, second)).toBe(202);
      await eventually(
        async () => ((await storedClicks(stack)).length === 2 ? true : undefined),
        10_000,
        'both clicks stored',
      );
      const client = new DynamoDBClient(localClientConfig(stack.info.dynamodbEndpoint));
      const { Items = [] } = await client.send(
        new ScanCommand({
          TableName: stack.info.tableName,
          FilterExpression: '#kind = :event',
          ExpressionAttributeNames: { '#kind': 'kind' },
          ExpressionAttributeValues: { ':event': { S: 'event' } },
        }),
      );
      client.destroy();
      items = Items.map((item) => ({ id: item.id?.S ?? '', received_at: item.received_at?.S ?? '' }));
      // Without a reaction module, nothing of reactions is written.
      expect(existsSync(join(dir, REACTIONS_DIR))).toBe(false);
    } finally {
      await stack.kill('SIGTERM');
    }
    // The journal as a crash leaves it.
    const intent = (n: string, body: string, receivedAt: string) => {
      const message = recordOf(body);
      const record: EventRecord = { ...message.record, received_at: receivedAt };
      return JSON.stringify({
        t: 'i',
        n,
        ...itemKey(message, { shards: 1, retentionDays: null }),
        at: receivedAt,
        r: record,
      });
    };
    const at = (body: string) =>
      items.find((item) => item.id === recordOf(body).record.id)?.received_at ?? '';
    await mkdir(join(dir, REACTIONS_DIR), { recursive: true, mode: 0o700 });
    await writeFile(
      join(dir, REACTIONS_DIR, REACTIONS_JOURNAL_FILE),
      [
        intent('a', first, at(first)), // stored by this delivery, cut off before its reaction: runs
        intent('b', first, '2020-01-01T00:00:00.000Z'), // another delivery of it, a duplicate: dropped
        intent('c', never, new Date().toISOString()), // cut off before its put: dropped
        intent('d', second, at(second)), // its reaction ran: dropped
        JSON.stringify({ t: 'd', n: 'd' }),
        '{"t":"i","n":"e","pk',
      ].join('\n'),
      { mode: 0o600 },
    );
    stack = await startStackProcess(dir, {
      SORI_SECRET_KEY: SECRET,
      ON_EVENT_MODULE: RECORD_IDS,
      REACTIONS_FILE: file,
    });
    try {
      await eventually(
        async () => (lines(file).length > 0 ? true : undefined),
        10_000,
        'the replayed reaction',
      );
      await new Promise((r) => setTimeout(r, 1_000));
      expect(lines<{ id: string }>(file).map((line) => line.id)).toEqual([recordOf(first).record.id]);
    } finally {
      await stack.kill('SIGTERM');
    }
  });

  it('retries a reaction that throws (twice, then runs) and writes one that always throws to failures.jsonl', async () => {
    const dir = await dataDir();
    const file = join(dir, 'reactions.jsonl');
    const stack = await startStackProcess(dir, {
      SORI_SECRET_KEY: SECRET,
      ON_EVENT_MODULE: resolve('test/fixtures/reactions/flaky.ts'),
      ON_EVENT_TYPES: 'campaign.click',
      REACTIONS_FILE: file,
      REACTION_BROKEN_DEVICE: 'device_0',
    });
    const failures = join(dir, REACTIONS_DIR, REACTIONS_FAILURES_FILE);
    try {
      // Clicks of devices 0, 2, 4, 1, 3; device_0's always fails.
      const bodies = makeBodies('flaky', 10, 5);
      const deliveries = withDuplicates(bodies, mulberry32(5));
      for (const status of await Promise.all(deliveries.map((body) => send(stack.info.webhookUrl, body))))
        expect(status).toBe(202);
      const clicks = bodies.map(recordOf).filter((message) => message.record.event === 'campaign.click');
      const broken = clicks
        .filter((message) => message.record.device_id === 'device_0')
        .map((m) => m.record.id);
      const good = clicks
        .filter((message) => message.record.device_id !== 'device_0')
        .map((m) => m.record.id);
      expect(broken.length).toBeGreaterThan(0);
      await eventually(
        async () =>
          lines(file).length >= good.length && lines(failures).length >= broken.length ? true : undefined,
        20_000,
        'every reaction run or given up',
      );
      await new Promise((r) => setTimeout(r, 500));
      expect(
        lines<{ id: string }>(file)
          .map((line) => line.id)
          .sort(),
      ).toEqual(good.sort());
      const attempts = readFileSync(`${file}.attempts`, 'utf8').split('\n').filter(Boolean);
      for (const id of good) expect(attempts.filter((line) => line === id)).toHaveLength(3);
      for (const id of broken) expect(attempts.filter((line) => line === id)).toHaveLength(5);
      const failed = lines<{ id: string; error: string; attempts: number }>(failures);
      expect(failed.map((line) => line.id).sort()).toEqual(broken.sort());
      expect(failed.every((line) => line.error === 'this device always fails' && line.attempts === 5)).toBe(
        true,
      );
      expect(statSync(failures).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, REACTIONS_DIR, REACTIONS_JOURNAL_FILE)).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, REACTIONS_DIR)).mode & 0o777).toBe(0o700);
    } finally {
      await stack.kill('SIGTERM');
    }
  });
});

describe('the worked example: examples/reward-first-click.ts under `npm start`', () => {
  it('rewards each device once per campaign, its first click, under a burst of repeated clicks and 30 % duplicate deliveries', async () => {
    const dir = await dataDir();
    const stack = await startStackProcess(dir, {
      SORI_SECRET_KEY: SECRET,
      ON_EVENT_MODULE: resolve('examples/reward-first-click.ts'),
      ON_EVENT_TYPES: 'campaign.click',
    });
    try {
      const random = mulberry32(17);
      // 60 events over 3 campaigns and 6 devices: most pairs click more than once.
      const bodies = Array.from({ length: 60 }, (_, i) => {
        const payload = soriPayload('click');
        return JSON.stringify({
          ...payload,
          event: random() < 0.8 ? 'campaign.click' : 'campaign.impression',
          activity_id: `act_reward_${i}`,
          device_id: `device_${Math.floor(random() * 6)}`,
          campaign: { ...(payload.campaign as object), id: `cmp_reward_${Math.floor(random() * 3)}` },
          created_at: new Date(Date.now() + i).toISOString(),
        });
      });
      const deliveries = withDuplicates(bodies, random);
      for (const status of await Promise.all(deliveries.map((body) => send(stack.info.webhookUrl, body))))
        expect(status).toBe(202);
      const clicks = bodies
        .map(recordOf)
        .map((message) => message.record)
        .filter((record) => record.event === 'campaign.click');
      const pairs = new Map<string, Set<string>>();
      for (const click of clicks) {
        const key = `sori#${click.campaign_id}#${click.device_id}`;
        pairs.set(key, (pairs.get(key) ?? new Set()).add(click.id));
      }
      expect(clicks.length).toBeGreaterThan(pairs.size);
      const ledger = join(dir, 'rewards', 'rewards.jsonl');
      await eventually(
        async () => ((await storedClicks(stack)).length === clicks.length ? true : undefined),
        20_000,
        'every click stored',
      );
      await eventually(
        async () => (lines(ledger).length >= pairs.size ? true : undefined),
        20_000,
        'a reward for every pair',
      );
      await new Promise((r) => setTimeout(r, 1_000));
      const rewards = lines<{ key: string; record_id: string }>(ledger);
      // Exactly one reward per (campaign, device), earned by one of that pair's clicks.
      expect(rewards.map((reward) => reward.key).sort()).toEqual([...pairs.keys()].sort());
      for (const reward of rewards) expect(pairs.get(reward.key)?.has(reward.record_id)).toBe(true);
      const granted = readdirSync(join(dir, 'rewards')).filter((name) => name.endsWith('.json'));
      expect(granted).toHaveLength(pairs.size);
    } finally {
      await stack.kill('SIGTERM');
    }
  });
});

describe('the reaction journal (local/reactions.ts)', () => {
  it('keeps an intent while its reaction runs and empties itself once everything in it is settled', async () => {
    const dir = await dataDir();
    let release: () => void = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ran: string[] = [];
    const { reactions } = await Reactions.open({
      reaction: {
        run: async (event) => {
          ran.push(event.id);
          await blocked;
        },
      },
      // No read of the table happens: nothing is pending at open and no put fails.
      client: {} as DynamoDBClient,
      tableName: 'unused',
      logger: createLogger('test', 'error'),
      dataDir: dir,
      compactBytes: 1,
    });
    const journal = join(dir, REACTIONS_DIR, REACTIONS_JOURNAL_FILE);
    const [first, second] = makeBodies('journal', 3)
      .filter((_, i) => i % 2 === 0)
      .map(recordOf) as [ReturnType<typeof recordOf>, ReturnType<typeof recordOf>];
    const key = (message: ReturnType<typeof recordOf>) =>
      itemKey(message, { shards: 1, retentionDays: null });
    expect(await reactions.store(first.record, key(first), async () => 'stored')).toBe('stored');
    expect(await reactions.store(second.record, key(second), async () => 'duplicate')).toBe('duplicate');
    await eventually(async () => (ran.length === 1 ? true : undefined), 5_000, 'the reaction running');
    // The first intent is pending while its reaction runs: the journal keeps it.
    await new Promise((r) => setTimeout(r, 100));
    const kept = lines<{ t: string; r?: EventRecord }>(journal);
    expect(kept.filter((line) => line.t === 'i').map((line) => line.r?.id)).toContain(first.record.id);
    release();
    await eventually(
      async () => (statSync(journal).size === 0 ? true : undefined),
      5_000,
      'the journal emptied',
    );
    expect(ran).toEqual([first.record.id]);
    await reactions.close(Date.now() + 1_000);
  });
});
