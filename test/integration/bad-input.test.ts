import { request as httpRequest } from 'node:http';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signBody } from '../../lib/signature/verify-signature';
import { type LocalStack, queueDepth, startLocalStack } from '../../local/local-stack';
import { memoryLogger, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';

const SECRET = 'sk_bad_input';
let stack: LocalStack;

interface Case {
  name: string;
  method?: string;
  path?: string;
  body?: string | Buffer;
  /** Headers; `sign` adds the right signature unless a signature header is given. */
  headers?: Record<string, string | string[]>;
  sign?: boolean;
  status: number;
  /** A subset of the JSON answer. */
  answer?: Record<string, unknown>;
  outcome: 'stored' | 'quarantined' | 'nothing';
}

function send(c: Case): Promise<{ status: number; body: string }> {
  const body = typeof c.body === 'string' ? Buffer.from(c.body) : (c.body ?? Buffer.alloc(0));
  const headers: Record<string, string | string[]> = { 'content-type': 'application/json', ...c.headers };
  if (c.sign !== false && !Object.keys(headers).some((name) => name.toLowerCase() === 'x-sori-signature')) {
    headers['x-sori-signature'] = signBody(body, SECRET).toString('hex');
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: stack.port,
        method: c.method ?? 'POST',
        path: c.path ?? '/webhooks/sori',
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Items a delivery stores: records, quarantined deliveries, device markers and state items. The repair's own
 * items (the journal, the fold state, counters, provider-days, devices' days) are written after a case by the
 * local repair loop, so another case's may land meanwhile.
 */
async function itemCount(): Promise<number> {
  const { Count = 0 } = await stack.dynamodb.send(
    new ScanCommand({
      TableName: stack.tableName,
      Select: 'COUNT',
      FilterExpression: '#kind IN (:event, :quarantine, :device, :state)',
      ExpressionAttributeNames: { '#kind': 'kind' },
      ExpressionAttributeValues: {
        ':event': { S: 'event' },
        ':quarantine': { S: 'quarantine' },
        ':device': { S: 'device' },
        ':state': { S: 'state' },
      },
    }),
  );
  return Count;
}

async function findStored(id: string) {
  const { Items = [] } = await stack.dynamodb.send(
    new ScanCommand({
      TableName: stack.tableName,
      FilterExpression: '#id = :id',
      ExpressionAttributeNames: { '#id': 'id' },
      ExpressionAttributeValues: { ':id': { S: id } },
    }),
  );
  return Items[0];
}

const impression = soriPayload('impression');
const json = (value: unknown) => JSON.stringify(value);
const withFields = (fields: Record<string, unknown>) => json({ ...impression, ...fields });
const huge = 'x'.repeat(25_000);
const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const signedBody = json(impression);
const digest = signBody(signedBody, SECRET);

const CASES: Case[] = [
  {
    name: 'an empty body',
    body: '',
    status: 202,
    answer: { status: 'quarantined', reason: 'invalid JSON: unexpected end of input' },
    outcome: 'quarantined',
  },
  {
    name: 'invalid JSON',
    body: '{"event": "campaign.click",',
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'a JSON array',
    body: json([impression]),
    status: 202,
    answer: { reason: 'payload is not a JSON object' },
    outcome: 'quarantined',
  },
  {
    name: 'a JSON string',
    body: '"campaign.impression"',
    status: 202,
    answer: { reason: 'payload is not a JSON object' },
    outcome: 'quarantined',
  },
  {
    name: 'a JSON number',
    body: '42',
    status: 202,
    answer: { reason: 'payload is not a JSON object' },
    outcome: 'quarantined',
  },
  {
    name: 'JSON null',
    body: 'null',
    status: 202,
    answer: { reason: 'payload is not a JSON object' },
    outcome: 'quarantined',
  },
  { name: 'a 10 MB body', body: Buffer.alloc(10 * 1024 * 1024, 0x20), status: 413, outcome: 'nothing' },
  {
    name: 'a body just over the 256 KiB limit',
    body: withFields({ padding: 'x'.repeat(262_144) }),
    status: 413,
    outcome: 'nothing',
  },
  {
    name: 'arrays nested 10,000 deep',
    body: deep(10_000),
    status: 202,
    answer: { reason: 'JSON nested deeper than 64 levels' },
    outcome: 'quarantined',
  },
  {
    name: 'metadata nested 10,000 deep',
    body: `{"event":"campaign.impression","account_id":"a","created_at":"2025-10-14T05:25:12.421Z","activity_id":"deep","campaign":{"id":"c"},"metadata":{"x":${deep(10_000)}}}`,
    status: 202,
    answer: { reason: 'JSON nested deeper than 64 levels' },
    outcome: 'quarantined',
  },
  {
    name: '__proto__ and constructor keys',
    body: `{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},${signedBody.slice(1, -1)},"metadata":{"__proto__":{"polluted":true}}}`,
    status: 202,
    answer: { status: 'accepted' },
    outcome: 'stored',
  },
  {
    name: 'an invalid created_at',
    body: withFields({ created_at: '2025-02-30T25:61:00Z' }),
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'a created_at on a day the month does not have (2025-02-30)',
    body: withFields({ activity_id: 'feb-30', created_at: '2025-02-30T10:00:00Z' }),
    status: 202,
    answer: {
      status: 'quarantined',
      reason: 'invalid campaign.impression: created_at: expected a real calendar date-time',
    },
    outcome: 'quarantined',
  },
  {
    name: 'a created_at in year 9999',
    body: withFields({ activity_id: 'year-9999', created_at: '9999-12-31T23:59:59.999-14:00' }),
    status: 202,
    answer: {
      status: 'quarantined',
      reason: expect.stringMatching(
        /^invalid campaign\.impression: created_at \+010000-01-01T13:59:59\.999Z is after .+ \(one day after it was received\)$/,
      ),
    },
    outcome: 'quarantined',
  },
  {
    name: 'a created_at before 2000',
    body: withFields({ activity_id: 'year-1999', created_at: '1999-12-31T23:59:59Z' }),
    status: 202,
    answer: {
      status: 'quarantined',
      reason:
        'invalid campaign.impression: created_at 1999-12-31T23:59:59.000Z is before 2000-01-01T00:00:00.000Z',
    },
    outcome: 'quarantined',
  },
  {
    name: 'a created_at without a time zone',
    body: withFields({ created_at: '2025-10-14T05:25:12' }),
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'an empty activity_id',
    body: withFields({ activity_id: '' }),
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'an empty account_id',
    body: withFields({ account_id: '' }),
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'a number for activity_id',
    body: withFields({ activity_id: 7890 }),
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'an object for campaign',
    body: withFields({ campaign: 'cmp_1234' }),
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'a boolean for metadata',
    body: withFields({ metadata: true }),
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'a 25 KB campaign id',
    body: withFields({ campaign: { id: huge } }),
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'a 25 KB device id',
    body: withFields({ device_id: huge, activity_id: 'dev-huge' }),
    status: 202,
    answer: { status: 'quarantined' },
    outcome: 'quarantined',
  },
  {
    name: 'huge strings in every free-text field',
    body: withFields({
      activity_id: 'huge-text',
      platform: huge,
      metadata: { note: huge },
      geolocation: { viewer_country: huge, viewer_region: huge, viewer_city: huge },
      campaign: { id: 'cmp_huge', name: huge, tags: [huge], image: huge },
    }),
    status: 202,
    answer: { status: 'accepted' },
    outcome: 'stored',
  },
  {
    name: 'a 200 KB value of the wrong type, answered with a reason that names the rule and quotes none of it',
    body: withFields({ activity_id: ['y'.repeat(200_000)] }),
    status: 202,
    answer: {
      status: 'quarantined',
      reason: 'invalid campaign.impression: activity_id: expected string, received an array',
    },
    outcome: 'quarantined',
  },
  {
    name: 'an unknown event name of 200 KB, described instead of quoted',
    body: withFields({ event: 'z'.repeat(200_000) }),
    status: 202,
    answer: { status: 'quarantined', reason: 'unknown event: not a known event name' },
    outcome: 'quarantined',
  },
  {
    name: '__proto__, constructor and a unit separator as values of every kind of field',
    body: withFields({
      activity_id: '__proto__',
      device_id: 'constructor',
      platform: '__proto__\u001ftimeIsReceipt',
      geolocation: { viewer_country: 'constructor', viewer_region: '\u001f', viewer_city: 'toString' },
      campaign: { id: 'cmp_structural', name: '__proto__', tags: ['constructor'] },
      material: { id: '__proto__', name: '\u001f' },
      metadata: { note: '__proto__' },
    }),
    status: 202,
    answer: { status: 'accepted' },
    outcome: 'stored',
  },
  {
    name: 'an unknown event name',
    body: withFields({ event: 'campaign.share' }),
    status: 202,
    answer: { reason: 'unknown event "campaign.share"' },
    outcome: 'quarantined',
  },
  {
    name: 'an unknown legacy event_type',
    body: json({ ...soriPayload('legacy-click'), event_type: 'view' }),
    status: 202,
    answer: { reason: 'unknown event_type "view"' },
    outcome: 'quarantined',
  },
  {
    name: 'control characters in strings',
    body: withFields({ activity_id: 'ctl-\u0000\u0007\u001b', platform: 'And\u0000roid' }),
    status: 202,
    answer: { status: 'accepted' },
    outcome: 'stored',
  },
  {
    name: 'emoji in strings',
    body: withFields({ activity_id: 'emoji-🎧', campaign: { id: 'cmp_🎉', name: 'Fall 🍂' } }),
    status: 202,
    answer: { status: 'accepted' },
    outcome: 'stored',
  },
  {
    name: 'invalid UTF-8',
    body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    status: 202,
    answer: { reason: 'body is not valid UTF-8' },
    outcome: 'quarantined',
  },
  {
    name: 'a binary content type (base64 through API Gateway)',
    body: withFields({ activity_id: 'b64' }),
    headers: { 'content-type': 'application/octet-stream' },
    status: 202,
    answer: { status: 'accepted' },
    outcome: 'stored',
  },
  {
    name: 'a wrong content type',
    body: withFields({ activity_id: 'text-plain' }),
    headers: { 'content-type': 'text/plain' },
    status: 202,
    answer: { status: 'accepted' },
    outcome: 'stored',
  },
  {
    name: 'no content type',
    body: withFields({ activity_id: 'no-type' }),
    headers: { 'content-type': '' },
    status: 202,
    answer: { status: 'accepted' },
    outcome: 'stored',
  },
  {
    name: 'the header name upper-cased',
    body: signedBody,
    headers: { 'X-SORI-SIGNATURE': digest.toString('hex') },
    status: 202,
    outcome: 'stored',
  },
  {
    name: 'the header name lower-cased',
    body: signedBody,
    headers: { 'x-sori-signature': digest.toString('hex') },
    status: 202,
    outcome: 'stored',
  },
  {
    name: 'the signature header repeated',
    body: signedBody,
    headers: { 'x-sori-signature': [digest.toString('hex'), digest.toString('hex')] },
    status: 401,
    answer: { message: 'Unauthorized' },
    outcome: 'nothing',
  },
  {
    name: 'a signature of the wrong length',
    body: signedBody,
    headers: { 'x-sori-signature': digest.toString('hex').slice(2) },
    status: 401,
    answer: { message: 'Unauthorized' },
    outcome: 'nothing',
  },
  {
    name: 'a signature in a wrong encoding',
    body: signedBody,
    headers: { 'x-sori-signature': Array.from(digest).join(',') },
    status: 401,
    outcome: 'nothing',
  },
  {
    name: 'the signature of another body',
    body: signedBody,
    headers: { 'x-sori-signature': signBody('{}', SECRET).toString('hex') },
    status: 401,
    outcome: 'nothing',
  },
  {
    name: 'a signature with another secret',
    body: signedBody,
    headers: { 'x-sori-signature': signBody(signedBody, 'other').toString('hex') },
    status: 401,
    outcome: 'nothing',
  },
  {
    name: 'a signature with whitespace inside',
    body: signedBody,
    headers: {
      'x-sori-signature': `${digest.toString('hex').slice(0, 10)} ${digest.toString('hex').slice(10)}`,
    },
    status: 401,
    outcome: 'nothing',
  },
  {
    name: 'a signature with whitespace around',
    body: signedBody,
    headers: { 'x-sori-signature': `  ${digest.toString('hex')} ` },
    status: 202,
    outcome: 'stored',
  },
  {
    name: 'no signature',
    body: signedBody,
    sign: false,
    status: 401,
    answer: { message: 'Unauthorized' },
    outcome: 'nothing',
  },
  {
    name: 'GET on the webhook route',
    method: 'GET',
    status: 405,
    answer: { message: 'Method Not Allowed' },
    outcome: 'nothing',
  },
  { name: 'PUT on the webhook route', method: 'PUT', body: signedBody, status: 405, outcome: 'nothing' },
  {
    name: 'an unknown provider',
    path: '/webhooks/acme',
    body: signedBody,
    status: 404,
    answer: { message: 'Not Found' },
    outcome: 'nothing',
  },
];

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, secret: SECRET, logger: memoryLogger().logger });
});
afterAll(() => stack.stop());

describe('bad input: every case answers precisely, stores what is authentic, and leaves the server healthy', () => {
  it.each(CASES)('$name → $status, $outcome', async (c) => {
    const before = await itemCount();
    const response = await send(c);
    expect(response.status).toBe(c.status);
    const answer = response.body ? JSON.parse(response.body) : {};
    if (c.answer) expect(answer).toMatchObject(c.answer);
    if (c.status === 401) expect(answer).toEqual({ message: 'Unauthorized' });

    await eventually(async () => ((await queueDepth(stack.sqs, stack.queueUrl)) === 0 ? true : undefined));
    if (c.outcome === 'nothing') {
      expect(await itemCount()).toBe(before);
    } else {
      const item = await eventually(async () => findStored(answer.id));
      expect(item?.kind?.S).toBe(c.outcome === 'stored' ? 'event' : 'quarantine');
      if (c.outcome === 'quarantined') expect(item?.reason?.S).toBe(answer.reason);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await fetch(`http://127.0.0.1:${stack.port}/healthz`)).status).toBe(200);
  });
});
