import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3RawStore } from '../../lib/blobs/raw-store';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { startSqs } from '../../local/aws-servers';
import { type LocalStack, localClientConfig, queueDepth, startLocalStack } from '../../local/local-stack';
import { memoryLogger } from '../support/deliveries';
import { runEvents } from '../support/events-cli';
import { eventually } from '../support/local-aws';

const FIXTURES = join(import.meta.dirname, '../../examples/payloads');
const fixture = (provider: string, name: string) =>
  JSON.parse(readFileSync(join(FIXTURES, provider, `${name}.json`), 'utf8')) as Record<string, unknown>;
const TOKENS = {
  symphony: 'tok_symphony_0123456789abcdef',
  adreform: 'tok_adreform_0123456789abcdef',
  optimizely: 'tok_optimizely_0123456789abcde',
};

let dataDir: string;
let stack: LocalStack;

const post = async (path: string, body: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`http://127.0.0.1:${stack.port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: response.status, body: (await response.json()) as Record<string, string> };
};
/** Every delivery stored, and a counter repair pass run after it (counters then include them). */
const drained = async () => {
  await eventually(async () => ((await queueDepth(stack.sqs, stack.queueUrl)) === 0 ? true : undefined));
  await stack.foldNow();
};

/** `npm run events -- query --provider <name> --json`, as a user runs it (in this process). */
/** `events query --provider`: with no other filter it reads day by day, so the examples' day is given. */
async function query(provider: string, day?: string) {
  const days = day ? ['--since', day, '--until', day] : [];
  const result = await runEvents(['query', '--provider', provider, ...days, '--json'], { DATA_DIR: dataDir });
  if (result.code !== 0) throw Object.assign(new Error(result.stderr), result);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-providers-'));
  stack = await startLocalStack({
    port: 0,
    dataDir,
    secret: 'sk_sori',
    urlTokens: TOKENS,
    logger: memoryLogger().logger,
  });
});

afterAll(async () => {
  await stack.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe.each([
  {
    provider: 'symphony',
    examples: ['campaign-created', 'campaign-updated', 'campaign-completed'],
    // Symphony's payloads have no time: they are dated when received, today.
    day: undefined,
    unknown: { event: 'campaign.deleted', id: 'cmp_x' },
  },
  {
    provider: 'adreform',
    examples: ['screenshot-set-approved'],
    day: '2023-01-01',
    unknown: {
      ...fixture('adreform', 'screenshot-set-approved'),
      id: 'evt_other',
      topic: 'screenshot_set.rejected',
    },
  },
  {
    provider: 'optimizely',
    examples: ['bounce'],
    day: '2021-03-30',
    unknown: { ...fixture('optimizely', 'bounce'), id: 'other', type: 'complaint' },
  },
] as const)('$provider', ({ provider, examples, unknown, day }) => {
  const url = () => `/webhooks/${provider}/${TOKENS[provider]}`;

  it('stores each seed example once when it is delivered several times, and returns it from the query CLI', async () => {
    const answers = await Promise.all(
      examples.flatMap((name) => [1, 2, 3].map(() => post(url(), JSON.stringify(fixture(provider, name))))),
    );
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 202));
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(examples.length);
    await drained();
    // Other tests of this file store events of the same provider on the shared stack, in any order: each of
    // this test's events is there exactly once, and no event is there twice.
    const rows = await query(provider, day);
    const ids = rows.map((row) => row.id);
    for (const id of new Set(answers.map((answer) => answer.body.id))) {
      expect(
        ids.filter((stored) => stored === id),
        id,
      ).toHaveLength(1);
    }
    expect(new Set(ids).size).toBe(ids.length);
    for (const row of rows) expect(row.provider).toBe(provider);
  });

  it.each([
    ['a wrong token', (p: string) => `/webhooks/${p}/tok_wrong_0123456789abcdef`],
    ['no token', (p: string) => `/webhooks/${p}`],
  ])('refuses %s with 401', async (_, path) => {
    const answer = await post(path(provider), JSON.stringify(fixture(provider, examples[0])));
    expect(answer).toEqual({ status: 401, body: { message: 'Unauthorized' } });
  });

  it('quarantines an unknown event, with the reason', async () => {
    const answer = await post(url(), JSON.stringify(unknown));
    expect(answer.status).toBe(202);
    expect(answer.body.status).toBe('quarantined');
    expect(answer.body.reason).toMatch(/^unknown (event|topic|type)/);
  });
});

describe('event times', () => {
  it.each([
    {
      provider: 'adreform' as const,
      payload: {
        ...fixture('adreform', 'screenshot-set-approved'),
        id: 'evt_feb30',
        created_at: '2023-02-30T10:52:11.822-05:00',
      },
      reason: 'invalid Ad Reform event: created_at: expected a real calendar date-time',
    },
    {
      provider: 'optimizely' as const,
      payload: { ...fixture('optimizely', 'bounce'), id: 'far-future', created: 8.64e15 },
      reason:
        /^invalid Optimizely event: created \+275760-09-13T00:00:00\.000Z is after .+ \(one day after it was received\)$/,
    },
  ])(
    'quarantines an event of $provider whose time is no real date or lies beyond one day after receipt, and keeps it',
    async ({ provider, payload, reason }) => {
      const answer = await post(`/webhooks/${provider}/${TOKENS[provider]}`, JSON.stringify(payload));
      expect(answer.status).toBe(202);
      expect(answer.body).toMatchObject({ status: 'quarantined', reason });
      await drained();
      const records = new RecordsRepository(stack.dynamodb, stack.tableName, stack.layout);
      const kept = (await records.listQuarantine(1000)).find((q) => q.id === answer.body.id);
      expect(kept).toMatchObject({ provider, reason: answer.body.reason, raw: JSON.stringify(payload) });
    },
  );
});

describe('symphony current state', () => {
  it('never moves backwards when deliveries arrive out of order', async () => {
    const deliver = (name: string, extra: Record<string, unknown> = {}) =>
      post(
        `/webhooks/symphony/${TOKENS.symphony}`,
        JSON.stringify({ ...fixture('symphony', name), id: 'cmp_order', ...extra }),
      );
    const records = new RecordsRepository(stack.dynamodb, stack.tableName, stack.layout);
    await deliver('campaign-updated');
    await drained();
    expect(await records.getState('symphony', 'cmp_order')).toMatchObject({ status: 'ACTIVE', rank: 3 });
    await deliver('campaign-completed');
    await drained();
    // Late: the campaign's creation and an earlier processing step arrive after it completed.
    await deliver('campaign-created');
    await deliver('campaign-updated', { event: 'campaign.processing', status: 'PROCESSING' });
    await drained();
    expect(await records.getState('symphony', 'cmp_order')).toMatchObject({
      status: 'FINISHED',
      event: 'campaign.completed',
      rank: 5,
    });
  });

  it("moves by Symphony's own status, never by a status inside its free-form metadata", async () => {
    const deliver = (name: string, metadata: Record<string, unknown>) =>
      post(
        `/webhooks/symphony/${TOKENS.symphony}`,
        JSON.stringify({ ...fixture('symphony', name), id: 'cmp_metadata_status', metadata }),
      );
    const records = new RecordsRepository(stack.dynamodb, stack.tableName, stack.layout);
    await deliver('campaign-created', { status: 'FINISHED' });
    await drained();
    expect(await records.getState('symphony', 'cmp_metadata_status')).toMatchObject({
      status: 'DRAFT',
      rank: 0,
    });
    await deliver('campaign-updated', { status: 'DRAFT' });
    await drained();
    expect(await records.getState('symphony', 'cmp_metadata_status')).toMatchObject({
      status: 'ACTIVE',
      rank: 3,
    });
  });

  it.each(['__proto__', 'constructor', 'toString'])(
    'stores a delivery whose status is %j, its state ranked lowest with the status kept as a value',
    async (status) => {
      const id = `cmp_status_${status}`;
      const answer = await post(
        `/webhooks/symphony/${TOKENS.symphony}`,
        JSON.stringify({ ...fixture('symphony', 'campaign-updated'), id, status }),
      );
      expect(answer).toMatchObject({ status: 202, body: { status: 'accepted' } });
      await drained();
      const records = new RecordsRepository(stack.dynamodb, stack.tableName, stack.layout);
      expect(await eventually(async () => records.getState('symphony', id))).toMatchObject({
        status,
        rank: -1,
      });
    },
  );

  it('lets the latest delivery win within one rank (ACTIVE and PAUSED)', async () => {
    const deliver = (status: string) =>
      post(
        `/webhooks/symphony/${TOKENS.symphony}`,
        JSON.stringify({
          ...fixture('symphony', 'campaign-updated'),
          id: 'cmp_pause',
          status,
          reason: status,
        }),
      );
    const records = new RecordsRepository(stack.dynamodb, stack.tableName, stack.layout);
    await deliver('ACTIVE');
    await drained();
    await deliver('PAUSED');
    await drained();
    expect(await records.getState('symphony', 'cmp_pause')).toMatchObject({ status: 'PAUSED' });
  });
});

describe('ad reform large bodies', () => {
  it('stores a body beyond the queue and item limits once, its raw bytes kept in the raw store', async () => {
    const base = fixture('adreform', 'screenshot-set-approved');
    const object = (base.data as { object: { screenshots: unknown[] } }).object;
    const screenshots = Array.from({ length: 1500 }, (_, i) => ({
      ...(object.screenshots[0] as object),
      id: `shot_${i}`,
    }));
    const body = JSON.stringify({ ...base, id: 'evt_large_1', data: { object: { ...object, screenshots } } });
    expect(body.length).toBeGreaterThan(1_100_000);
    const answers = await Promise.all([1, 2].map(() => post(`/webhooks/adreform/${TOKENS.adreform}`, body)));
    expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
    await drained();
    const { Items = [] } = await stack.dynamodb.send(
      new ScanCommand({
        TableName: stack.tableName,
        FilterExpression: '#id = :id',
        ExpressionAttributeNames: { '#id': 'id' },
        ExpressionAttributeValues: { ':id': { S: answers[0]?.body.id ?? '' } },
      }),
    );
    expect(Items).toHaveLength(1);
    const ref = Items[0]?.raw_ref?.S ?? '';
    expect(ref).toMatch(/^file:\/\/raw\/adreform\/[0-9a-f]{64}$/);
    expect(Items[0]?.raw).toBeUndefined();
    expect(await readFile(join(dataDir, ref.slice('file://'.length)), 'utf8')).toBe(body);
    expect(JSON.parse(Items[0]?.metadata?.S ?? '{}')).toEqual({ status: 'approved', screenshots: 1500 });
  });

  it('puts raw bodies into S3 through the S3 API (a real local S3-API server)', async () => {
    const server = await startSqs();
    try {
      const client = new S3Client({ ...localClientConfig(server.endpoint), forcePathStyle: true });
      const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
      await client.send(new CreateBucketCommand({ Bucket: 'raw-bodies' }));
      const store = new S3RawStore('raw-bodies', () => client);
      const raw = Buffer.alloc(500_000, 'x');
      const ref = await store.put('adreform', raw);
      expect(ref).toMatch(/^s3:\/\/raw-bodies\/raw\/adreform\/[0-9a-f]{64}$/);
      const object = await client.send(
        new GetObjectCommand({ Bucket: 'raw-bodies', Key: ref.slice('s3://raw-bodies/'.length) }),
      );
      expect(Buffer.from((await object.Body?.transformToByteArray()) ?? [])).toEqual(raw);
      client.destroy();
    } finally {
      await server.stop();
    }
  });
});

describe('optimizely', () => {
  it('counts opens and clicks per mailing and day, and unique recipients', async () => {
    const bounce = fixture('optimizely', 'bounce');
    const event = (type: string, id: string, recipient: string) =>
      post(
        `/webhooks/optimizely/${TOKENS.optimizely}`,
        JSON.stringify({ ...bounce, type, id, recipientId: recipient, mailingId: 555 }),
      );
    await Promise.all([
      event('open', 'o1', 'a@example.com'),
      event('open', 'o1', 'a@example.com'),
      event('open', 'o2', 'b@example.com'),
      event('click', 'c1', 'a@example.com'),
      event('bounce', 'b1', 'c@example.com'),
    ]);
    await drained();
    const counters = new CampaignStats(stack.dynamodb, stack.tableName);
    expect(await counters.campaignStats('optimizely', '555')).toEqual([
      expect.objectContaining({ day: '2021-03-30', impressions: 2, clicks: 1, unique_devices: 2 }),
    ]);
  });
});

describe('optimizely ids above 2^53', () => {
  it('stores and counts two mailings and two recipients that differ only past 2^53 as two, their digits exact', async () => {
    const open = (mailing: string, recipient: string, id: string) =>
      post(
        `/webhooks/optimizely/${TOKENS.optimizely}`,
        // Bare digits, as Optimizely writes its numeric ids: JSON.stringify cannot write such a number.
        JSON.stringify({ ...fixture('optimizely', 'bounce'), type: 'open', id, mailingId: 0, recipientId: 0 })
          .replace('"mailingId":0', `"mailingId":${mailing}`)
          .replace('"recipientId":0', `"recipientId":${recipient}`),
      );
    const answers = await Promise.all([
      open('9007199254740993', '9007199254740993', 'big-open-1'),
      open('9007199254740992', '9007199254740993', 'big-open-2'),
      open('9007199254740992', '9007199254740992', 'big-open-3'),
    ]);
    expect(answers.map((answer) => answer.body.status)).toEqual(['accepted', 'accepted', 'accepted']);
    await drained();
    const counters = new CampaignStats(stack.dynamodb, stack.tableName);
    expect(await counters.campaignStats('optimizely', '9007199254740993')).toEqual([
      expect.objectContaining({ impressions: 1, unique_devices: 1 }),
    ]);
    expect(await counters.campaignStats('optimizely', '9007199254740992')).toEqual([
      expect.objectContaining({ impressions: 2, unique_devices: 2 }),
    ]);
  });
});

describe('authentication fails closed', () => {
  it('refuses everything for a URL-token provider whose token is not set', async () => {
    const bare = await startLocalStack({ port: 0, secret: 'sk', logger: memoryLogger().logger });
    try {
      for (const token of ['', 'undefined', 'null', 'x'.repeat(40)]) {
        const response = await fetch(`http://127.0.0.1:${bare.port}/webhooks/symphony/${token}`, {
          method: 'POST',
          body: '{}',
        });
        expect(response.status).toBe(401);
      }
    } finally {
      await bare.stop();
    }
  });

  it('checks the source address when an allowlist is configured (Optimizely sends from 193.169.180.1)', async () => {
    const body = JSON.stringify(fixture('optimizely', 'bounce'));
    for (const [allowIps, status] of [
      [['193.169.180.1'], 401],
      [['127.0.0.0/8'], 202],
    ] as const) {
      const guarded = await startLocalStack({
        port: 0,
        secret: 'sk',
        urlTokens: { optimizely: TOKENS.optimizely },
        auth: { optimizely: { scheme: { kind: 'url-token' }, allowIps } },
        logger: memoryLogger().logger,
      });
      try {
        const response = await fetch(
          `http://127.0.0.1:${guarded.port}/webhooks/optimizely/${TOKENS.optimizely}`,
          { method: 'POST', body },
        );
        expect(response.status).toBe(status);
      } finally {
        await guarded.stop();
      }
    }
  });

  it('takes HTTP Basic credentials when configured, and refuses everything without them', async () => {
    const body = JSON.stringify(fixture('optimizely', 'bounce'));
    const header = (user: string, password: string) => ({
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
    });
    const configured = { optimizely: { basic: { username: 'inbox', password: 'pa55word' } } };
    for (const [credentials, headers, status] of [
      [configured, header('inbox', 'pa55word'), 202],
      [configured, header('inbox', 'pa55wore'), 401],
      [configured, {}, 401],
      // No Basic credentials configured: even a well-formed header is refused.
      [{}, header('inbox', 'pa55word'), 401],
    ] as const) {
      const basic = await startLocalStack({
        port: 0,
        secret: 'sk',
        auth: { optimizely: { scheme: { kind: 'basic' } } },
        credentials,
        logger: memoryLogger().logger,
      });
      try {
        const response = await fetch(`http://127.0.0.1:${basic.port}/webhooks/optimizely`, {
          method: 'POST',
          body,
          headers,
        });
        expect(response.status).toBe(status);
      } finally {
        await basic.stop();
      }
    }
  });
});
