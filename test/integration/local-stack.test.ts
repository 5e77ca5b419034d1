import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { DeadLetterQueue, peekDeadLetters, purgeDeadLetters } from '../../lib/queue/dead-letters';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { type LocalStack, queueDepth, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, SORI_FIXTURES, soriBody, soriPayload } from '../support/deliveries';
import { runEvents } from '../support/events-cli';
import { eventually } from '../support/local-aws';

const run = promisify(execFile);
const SECRET = 'sk_local_stack_test';
let dataDir: string;
let stack: LocalStack;
const log = memoryLogger();

const start = () =>
  startLocalStack({
    port: 0,
    dataDir,
    secret: SECRET,
    visibilityTimeoutSeconds: 1,
    maxReceiveCount: 2,
    urlTokens: { symphony: 'tok_local_stack_test_0123456789' },
    logger: log.logger,
  });

async function post(body: string, headers: Record<string, string> = {}) {
  const response = await fetch(stack.webhookUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-sori-signature': hexSignature(body, SECRET),
      ...headers,
    },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

/**
 * `npm run events -- <args> --json` as a user runs it, finding the stack through DATA_DIR alone (in this process);
 * rejects as a failed run would.
 */
async function events(...args: string[]): Promise<Record<string, unknown>[]> {
  const result = await runEvents([...args, '--json'], { DATA_DIR: dataDir });
  if (result.code !== 0) throw Object.assign(new Error(result.stderr), result);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

/**
 * Empties the dead-letter queue, which this file's tests share, and waits until a look finds it empty: each test
 * that counts dead letters sees only the ones it sends, whichever test ran before it.
 */
async function noDeadLetters() {
  await purgeDeadLetters(stack.sqs, stack.dlqUrl);
  await eventually(
    async () => ((await peekDeadLetters(stack.sqs, stack.dlqUrl)).length === 0 ? true : undefined),
    10_000,
    'an empty dead-letter queue',
  );
}

const retryOf = (name: (typeof SORI_FIXTURES)[number], attempt: number) => {
  const payload = soriPayload(name);
  // A SORI retry: same event, new "timestamp appended just before dispatch". Legacy retries are identical.
  return attempt === 0 || !('event' in payload)
    ? JSON.stringify(payload)
    : JSON.stringify({ ...payload, timestamp: `2025-10-14T06:0${attempt}:00.000Z` });
};

let seeding: Promise<Awaited<ReturnType<typeof post>>[]> | undefined;

/**
 * Delivers every seed event 4 times concurrently (once per file, whichever test asks first) and waits until
 * all are stored and counted, so each test that reads them passes alone and in any order (the counters are
 * folded after the events are stored).
 */
function seeded() {
  seeding ??= (async () => {
    const answers = await Promise.all(
      SORI_FIXTURES.flatMap((name) => [0, 1, 2, 3].map((attempt) => post(retryOf(name, attempt)))),
    );
    const repository = new RecordsRepository(stack.dynamodb, stack.tableName);
    await eventually(
      async () => {
        const campaign = await repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 });
        const legacy = await repository.queryEvents({ provider: 'sori', campaign: 'string', limit: 10 });
        return campaign.length === 2 && legacy.length === 2 ? true : undefined;
      },
      15_000,
      'the seed events stored',
    );
    const stats = new CampaignStats(stack.dynamodb, stack.tableName);
    const counted = async (campaign: string) =>
      (await stats.campaignStats('sori', campaign)).map((row) => [row.impressions, row.clicks]);
    await eventually(
      async () => {
        const [campaign, legacy] = [await counted('cmp_1234'), await counted('string')];
        return JSON.stringify([campaign, legacy]) === '[[[1,1]],[[1,1]]]' ? true : undefined;
      },
      15_000,
      'the seed events counted',
    );
    return answers;
  })();
  return seeding;
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-'));
  stack = await start();
});

afterAll(async () => {
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('local stack (npm start)', () => {
  it('answers /healthz with 200 once the servers and the poller are ready', async () => {
    const response = await fetch(`http://127.0.0.1:${stack.port}/healthz`);
    expect(response.status).toBe(200);
  });

  it('stores each seed event exactly once when SORI delivers it 4 times concurrently', async () => {
    const answers = await seeded();
    expect(answers.every((answer) => answer.status === 202 && answer.body.status === 'accepted')).toBe(true);
    const ids = new Set(answers.map((answer) => answer.body.id));
    expect(ids.size).toBe(SORI_FIXTURES.length);

    const stored = await eventually(
      async () => {
        // With no filter, query reads day by day: the current examples' day, and the legacy ones'.
        const rows = [
          ...(await events('query', '--since', '2025-10-14', '--until', '2025-10-14')),
          ...(await events('query', '--since', '2024-01-01', '--until', '2024-01-01')),
        ];
        return rows.length >= SORI_FIXTURES.length ? rows : undefined;
      },
      15_000,
      'every seed event queryable',
    );
    expect(stored).toHaveLength(SORI_FIXTURES.length);
    expect(new Set(stored.map((row) => row.id))).toEqual(ids);
    for (const row of stored) {
      expect(Object.keys(row)).toEqual(
        expect.arrayContaining([
          'id',
          'provider',
          'event',
          'account_id',
          'campaign_id',
          'material_id',
          'activity_id',
          'device_id',
          'platform',
          'created_at',
          'received_at',
          'metadata',
          'geolocation',
        ]),
      );
    }
  });

  it('filters queries by campaign, device, type and time range', async () => {
    await seeded();
    const campaign = await events('query', '--campaign', 'cmp_1234');
    expect(campaign.map((row) => row.event)).toEqual(['campaign.click', 'campaign.impression']);
    const device = await events('query', '--device', 'device_abc', '--since', '2025-10-14T05:20:00Z');
    expect(device.map((row) => row.event)).toEqual(['campaign.click', 'campaign.impression']);
    const clicks = await events(
      'query',
      '--type',
      'campaign.click',
      '--since',
      '2025-10-14',
      '--until',
      '2025-10-14',
    );
    expect(clicks.map((row) => row.activity_id)).toEqual(['act_7890']);
    expect(await events('query', '--campaign', 'cmp_1234', '--limit', '1')).toHaveLength(1);
  });

  it('counts them exactly in `stats`, per campaign and day and across campaigns', async () => {
    await seeded();
    expect(await events('stats', '--campaign', 'cmp_1234')).toEqual([
      {
        provider: 'sori',
        campaign_id: 'cmp_1234',
        day: '2025-10-14',
        impressions: 1,
        clicks: 1,
        unique_devices: 1,
        ctr: 1,
      },
    ]);
    const summary = await events('stats', '--since', '2025-10-13', '--until', '2025-10-14');
    expect(summary).toEqual([
      expect.objectContaining({
        campaign_id: 'cmp_1234',
        impressions: 1,
        clicks: 1,
        unique_devices: 1,
        ctr: 1,
      }),
    ]);
    const legacy = await events('stats', '--since', '2024-01-01', '--until', '2024-01-01');
    expect(legacy.map((row) => [row.campaign_id, row.impressions, row.clicks])).toEqual([['string', 1, 1]]);
  });

  it('answers GET /api/dashboard with every contract field for a day, and 400 for a day that does not exist', async () => {
    await seeded();
    const url = `http://127.0.0.1:${stack.port}/api/dashboard`;
    const data = (await eventually(
      async () => {
        const body = (await (await fetch(`${url}?day=2025-10-14`)).json()) as {
          totals: { impressions: number };
        };
        return body.totals.impressions === 1 ? body : undefined;
      },
      10_000,
      'the seed counters',
    )) as Record<string, unknown>;
    expect(Object.keys(data)).toEqual(
      expect.arrayContaining(['day', 'campaigns', 'totals', 'hourly', 'breakdowns', 'latest']),
    );
    expect(data.day).toBe('2025-10-14');
    expect(data.campaigns).toEqual(
      expect.arrayContaining([
        {
          provider: 'sori',
          campaign_id: 'cmp_1234',
          day: '2025-10-14',
          campaign_name: 'Fall Promotion',
          impressions: 1,
          clicks: 1,
          ctr: 1,
          unique_devices: 1,
        },
      ]),
    );
    const campaigns = data.campaigns as Record<string, number>[];
    const sum = (field: string) => campaigns.reduce((total, c) => total + (c[field] ?? 0), 0);
    expect(data.totals).toEqual({
      impressions: sum('impressions'),
      clicks: sum('clicks'),
      unique_devices: sum('unique_devices'),
    });
    const hourly = data.hourly as { hour: number; impressions: number; clicks: number }[];
    expect(hourly.map((h) => h.hour)).toEqual(Array.from({ length: 24 }, (_, hour) => hour));
    expect(hourly[5]).toEqual({ hour: 5, impressions: 1, clicks: 1 });
    const breakdowns = data.breakdowns as Record<
      string,
      { key: string; impressions: number; clicks: number }[]
    >;
    expect(breakdowns.platform).toEqual(
      expect.arrayContaining([{ key: 'Android', impressions: 1, clicks: 1 }]),
    );
    expect(breakdowns.country).toEqual([{ key: 'United States', impressions: 1, clicks: 1 }]);
    expect(breakdowns.material).toEqual([
      { key: 'mat_5678', impressions: 1, clicks: 1, name: 'Audio Spot 15s' },
    ]);
    // The latest events are read from the table (not kept in memory), newest created_at first.
    const latest = data.latest as { created_at: string; id: string }[];
    expect(latest.length).toBeGreaterThanOrEqual(4);
    expect(latest.map((e) => e.created_at)).toEqual([...latest.map((e) => e.created_at)].sort().reverse());
    const [printed] = await events('query', '--campaign', 'cmp_1234', '--limit', '1');
    expect(printed).toBeDefined();
    expect(Object.keys(latest[0] ?? {})).toEqual(Object.keys(printed ?? {}));

    for (const day of ['2025-02-30', 'today', '2025-1-1']) {
      const response = await fetch(`${url}?day=${day}`);
      expect(response.status, day).toBe(400);
    }
  });

  it('lists a signed unknown event in `quarantine` with its reason, and `reprocess` keeps it there while it still does not parse', async () => {
    const body = JSON.stringify({ event: 'campaign.share', account_id: 'acc_123456' });
    expect((await post(body)).body.status).toBe('quarantined');
    // The stack is shared by this file's tests, which may run in any order: only this test's entry is looked at.
    const mine = async () =>
      (await events('quarantine')).filter((row) => (row as { raw?: string }).raw === body);
    const rows = await eventually(
      async () => {
        const listed = await mine();
        return listed.length > 0 ? listed : undefined;
      },
      10_000,
      'the quarantined record',
    );
    expect(rows).toEqual([expect.objectContaining({ reason: 'unknown event "campaign.share"', raw: body })]);
    // `events reprocess` runs it again through the provider code as it is: still not understood, still kept.
    const outcomes = await events('reprocess', '--reason', 'campaign.share');
    expect(outcomes).toEqual([
      expect.objectContaining({ result: 'quarantined', reason: 'unknown event "campaign.share"' }),
    ]);
    expect(await mine()).toEqual([expect.objectContaining({ raw: body })]);
  });

  it('answers 401, 404 and 405 through the local API Gateway', async () => {
    expect((await post(soriBody('click'), { 'x-sori-signature': 'bad' })).status).toBe(401);
    expect(
      (await fetch(`http://127.0.0.1:${stack.port}/webhooks/acme`, { method: 'POST', body: '{}' })).status,
    ).toBe(404);
    expect((await fetch(stack.webhookUrl)).status).toBe(405);
    expect((await fetch(`http://127.0.0.1:${stack.port}/nowhere`)).status).toBe(404);
  });

  it('verifies the signature over the bytes received: a body starting with a UTF-8 byte-order mark is accepted', async () => {
    const json = Buffer.from(soriBody('click'));
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json]);
    const response = await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, SECRET) },
      body,
    });
    expect(response.status).toBe(202);
    // The same bytes without the mark are another body: signed over the marked bytes, they are refused.
    const stripped = await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, SECRET) },
      body: json,
    });
    expect(stripped.status).toBe(401);
  });

  it('answers 404 for a path that is no valid percent-encoding, and stays up', async () => {
    for (const path of ['/webhooks/%E0/x', '/webhooks/%E0', '/webhooks/sori/%']) {
      const response = await fetch(`http://127.0.0.1:${stack.port}${path}`, { method: 'POST', body: '{}' });
      expect(response.status, path).toBe(404);
    }
    expect((await fetch(`http://127.0.0.1:${stack.port}/healthz`)).status).toBe(200);
  });

  it('keeps an idle keep-alive connection open longer than the 5 s a pooling sender would race', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    const get = () =>
      new Promise<number>((resolve, reject) => {
        const request = httpRequest(`http://127.0.0.1:${stack.port}/healthz`, { agent }, (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        });
        request.on('socket', (socket) => sockets.add(socket));
        request.on('error', reject);
        request.end();
      });
    try {
      expect(await get()).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 7_000));
      expect(await get()).toBe(200);
      expect(sockets.size, 'the second request reused the first connection').toBe(1);
    } finally {
      agent.destroy();
    }
  }, 15_000);

  it('logs the route key of a webhook request, never its path (a URL token is a credential)', async () => {
    const token = 'tok_local_stack_test_0123456789';
    const base = `http://127.0.0.1:${stack.port}/webhooks`;
    const from = log.lines.length;
    // Symphony's own token route, then the catch-all one (a name no provider has) with a token in its path.
    await fetch(`${base}/symphony/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await fetch(`${base}/made-up/${token}x`, { method: 'POST', body: '{}' });
    const lines = log.lines.slice(from).filter((line) => line.includes('webhook request'));
    expect(lines.some((line) => line.includes('POST /webhooks/symphony/{token}'))).toBe(true);
    expect(lines.some((line) => line.includes('ANY /webhooks/{provider}/{token}'))).toBe(true);
    expect(log.lines.join('\n')).not.toContain('tok_local_stack_test');
  });

  it('moves dead letters back with `npm run events -- redrive`, and they are stored once', async () => {
    await seeded();
    await noDeadLetters();
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    const legacy = buildQueueMessage(sori, Buffer.from(soriBody('legacy-click')), new Date().toISOString());
    await stack.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.dlqUrl, MessageBody: JSON.stringify(legacy) }),
    );
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/events.ts', 'redrive'],
      {
        env: { ...process.env, DATA_DIR: dataDir },
      },
    );
    // The tool as its own process, as a user runs it. A confirmation, not data: on stderr.
    expect(stderr).toContain('1 moved back');
    expect(stdout).toBe('');
    const repository = new RecordsRepository(stack.dynamodb, stack.tableName);
    // The legacy click was stored with the seed already: the redriven copy must not add a record.
    await eventually(
      async () => ((await queueDepth(stack.sqs, stack.queueUrl)) === 0 ? true : undefined),
      10_000,
      'drained',
    );
    expect(await repository.queryEvents({ provider: 'sori', campaign: 'string', limit: 10 })).toHaveLength(2);
  });

  it('shows the dead-letter queue without taking anything off it (`dlq list`, `dlq show`), and empties it only when told to (`dlq purge --yes`)', async () => {
    await noDeadLetters();
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    const click = buildQueueMessage(sori, Buffer.from(soriBody('click')), new Date().toISOString());
    await stack.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.dlqUrl, MessageBody: JSON.stringify(click) }),
    );
    // As the consumer sends a message it can never read: at once, with the reason.
    await new DeadLetterQueue(stack.sqs, stack.dlqUrl).send(
      'poison: not JSON',
      'not a queue message: invalid JSON',
    );
    const dlq = (...args: string[]) => runEvents(['dlq', ...args], { DATA_DIR: dataDir });
    const list = async () =>
      (await dlq('list', '--json')).stdout
        .split('\n')
        .filter(Boolean)
        .map(
          (line) =>
            JSON.parse(line) as {
              message_id: string;
              event: string | null;
              record_id: string | null;
              body: string;
            },
        );
    const letters = await list();
    expect(letters.map((letter) => letter.record_id ?? letter.body).sort()).toEqual(
      [click.record.id, 'poison: not JSON'].sort(),
    );
    // Looking took nothing off: a second look sees the same messages.
    expect((await list()).map((letter) => letter.message_id).sort()).toEqual(
      letters.map((letter) => letter.message_id).sort(),
    );
    const poison = letters.find((letter) => letter.record_id === null);
    expect((await dlq('show', poison?.message_id ?? '')).stdout.trim()).toBe('poison: not JSON');
    // The table says why each message is there, where the consumer said.
    const table = (await dlq('list')).stdout.split('\n');
    expect(table[0]).toMatch(/message_id .* record_id .* reason$/);
    expect(table.find((line) => line.startsWith(poison?.message_id ?? '-'))).toMatch(
      /not a queue message: invalid JSON$/,
    );
    expect((await dlq('show', 'no-such-id')).code).toBe(1);
    // Without --yes and without a terminal to ask on, purge refuses.
    expect((await dlq('purge')).code).toBe(2);
    expect(await list()).toHaveLength(2);
    expect((await dlq('purge', '--yes')).code).toBe(0);
    expect(
      await eventually(async () => ((await list()).length === 0 ? true : undefined), 10_000, 'purged'),
    ).toBe(true);
  });

  it('keeps stored events and dead letters across a restart with the same DATA_DIR', async () => {
    await seeded();
    await noDeadLetters();
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.dlqUrl, MessageBody: 'dead letter' }));
    await stack.stop();
    stack = await start();
    const repository = new RecordsRepository(stack.dynamodb, stack.tableName);
    expect(await repository.queryEvents({ provider: 'sori', campaign: 'cmp_1234', limit: 10 })).toHaveLength(
      2,
    );
    const { ReceiveMessageCommand } = await import('@aws-sdk/client-sqs');
    const dead = await stack.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: stack.dlqUrl, WaitTimeSeconds: 1 }),
    );
    expect(dead.Messages?.map((m) => m.Body)).toEqual(['dead letter']);
  });
});
