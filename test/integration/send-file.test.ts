import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CampaignStats } from '../../lib/queries/campaign-stats';
import { RecordsRepository } from '../../lib/queries/records-repository';
import { type LocalStack, queueDepth, startLocalStack } from '../../local/local-stack';
import { run } from '../../scripts/send';
import { memoryLogger, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';

const SECRET = 'sk_send_file_test';

let stack: LocalStack;
let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'campaign-inbox-send-file-'));
  stack = await startLocalStack({ port: 0, secret: SECRET, logger: memoryLogger().logger });
});
afterAll(async () => {
  await stack?.stop();
});

/** Every delivery stored, and a counter repair pass run after it (counters then include them). */
const drained = async () => {
  await eventually(async () => ((await queueDepth(stack.sqs, stack.queueUrl)) === 0 ? true : undefined));
  await stack.foldNow();
};

interface Sent {
  code: number;
  answers: {
    file: string;
    attempt: number;
    status: number;
    body: { status?: string; id?: string; reason?: string };
  }[];
}

/** `npm run send -- --url … --secret … --json <args>`, run in this process; its JSON lines are the answers. */
async function send(...args: string[]): Promise<Sent> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => {
    lines.push(String(line));
  });
  try {
    const code = await run(['--url', stack.webhookUrl, '--secret', SECRET, '--json', ...args]);
    return { code, answers: lines.map((line) => JSON.parse(line) as Sent['answers'][number]) };
  } finally {
    log.mockRestore();
  }
}

/** A SORI impression of a campaign of its own, in a file laid out as a person would write it (indented). */
async function impressionFile(createdAt: string, text?: (payload: Record<string, unknown>) => string) {
  const campaign = `cmp_file_${randomUUID().slice(0, 8)}`;
  const payload = {
    ...soriPayload('impression'),
    activity_id: `act_${randomUUID().slice(0, 8)}`,
    created_at: createdAt,
    timestamp: createdAt,
    campaign: { id: campaign, name: 'Spring Launch', tags: ['retail'], image: null },
  };
  const path = join(folder, `${campaign}.json`);
  const bytes = text ? text(payload) : `${JSON.stringify(payload, null, 2)}\n`;
  await writeFile(path, bytes);
  return { path, campaign, bytes };
}

const records = () => new RecordsRepository(stack.dynamodb, stack.tableName, stack.layout);

describe('npm run send -- --file: the file as it is', () => {
  it('stores a file sent twice once and counts it once: its dates are the same both times', async () => {
    const createdAt = new Date(Date.now() - 3_600_000).toISOString();
    const { path, campaign } = await impressionFile(createdAt);

    const first = await send('--file', path);
    const second = await send('--file', path);
    expect(first.code).toBe(0);
    expect(second.code).toBe(0);
    expect(second.answers[0]?.body.id).toBe(first.answers[0]?.body.id);

    await drained();
    const stored = await records().queryEvents({ provider: 'sori', campaign, limit: 100 });
    expect(stored.map((event) => event.created_at)).toEqual([createdAt]);
    const day = createdAt.slice(0, 10);
    const [row, ...more] = await new CampaignStats(stack.dynamodb, stack.tableName).campaignStats(
      'sori',
      campaign,
      day,
      day,
    );
    expect(more).toEqual([]);
    expect(row).toMatchObject({ day, impressions: 1, clicks: 0, unique_devices: 1, ctr: 0 });
  });

  it('quarantines an impossible date in a file, as the receive path decides, with the file byte for byte as its raw body', async () => {
    const { path, bytes } = await impressionFile('2026-02-30T10:00:00.000Z');

    const sent = await send('--file', path);
    expect(sent.answers).toHaveLength(1);
    const answer = sent.answers[0];
    expect(answer?.status).toBe(202);
    expect(answer?.body.status).toBe('quarantined');
    expect(answer?.body.reason).toContain('real calendar date-time');

    await drained();
    const kept = (await records().listQuarantine(1000)).find((q) => q.id === answer?.body.id);
    // The indentation and the final newline are there: the signature was computed over these bytes.
    expect(kept?.raw).toBe(bytes);
  });

  it('sends a file that is not JSON as it is, which the receiver keeps in the quarantine', async () => {
    const path = join(folder, 'truncated.json');
    const bytes = '{"event": "campaign.click", "created_at": "2026-';
    await writeFile(path, bytes);

    const sent = await send('--file', path);
    expect(sent.answers[0]?.status).toBe(202);
    expect(sent.answers[0]?.body.status).toBe('quarantined');

    await drained();
    const kept = (await records().listQuarantine(1000)).find((q) => q.id === sent.answers[0]?.body.id);
    expect(kept?.raw).toBe(bytes);
  });

  it('re-stamps a file with --now: its event times become the moment it is sent', async () => {
    const { path, campaign } = await impressionFile('2025-10-14T05:25:12.421Z');

    const before = new Date().toISOString();
    const sent = await send('--file', path, '--now');
    const after = new Date().toISOString();
    expect(sent.code).toBe(0);
    expect(sent.answers[0]?.body.status).toBe('accepted');

    await drained();
    const stored = await records().queryEvents({ provider: 'sori', campaign, limit: 100 });
    expect(stored).toHaveLength(1);
    const createdAt = stored[0]?.created_at ?? '';
    expect(createdAt >= before && createdAt <= after, `${createdAt} within [${before}, ${after}]`).toBe(true);
  });

  it('refuses --now with --keep-dates, which ask for opposite things, with exit code 2', async () => {
    const { path } = await impressionFile(new Date().toISOString());
    const written: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const sent = await send('--file', path, '--now', '--keep-dates');
      expect(sent.code).toBe(2);
      expect(sent.answers).toEqual([]);
    } finally {
      stderr.mockRestore();
    }
    expect(written.join('')).toMatch(/^send: --now .*--keep-dates.*\n$/);
  });
});
