// `npm run events -- query --json | jq` without -s (jq stops at npm's banner) and `send --json | head -1`: the
// reader of the tool's stdout closes it while the tool still has lines to write. Each tool runs as a child with
// its stdout a pipe whose reading end the test closes: before the tool writes anything, or, like head, after the
// first chunk of an output larger than a pipe holds.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';
import { bareEnv, finished, spawnTool, type ToolRun } from '../support/tool-process';

const ROOT = resolve(import.meta.dirname, '../..');
const { dynamodb } = localClients();
const env = bareEnv({
  DATA_DIR: '/nonexistent-campaign-inbox',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
});

/** Starts `tool` and closes the reading end of its stdout at once, before the tool has written anything. */
function unread(tool: string, args: string[]): Promise<ToolRun> {
  const child = spawnTool(tool, args, { cwd: ROOT, env });
  child.stdout?.destroy();
  return finished(child);
}

/** A table on the run's DynamoDB-API server holding `count` SORI impressions of one day. */
async function tableWith(count: number) {
  const table = await createTestTable(dynamodb);
  const payload = soriPayload('impression');
  const messages = Array.from({ length: count }, (_, i) =>
    buildQueueMessage(
      sori,
      Buffer.from(
        JSON.stringify({
          ...payload,
          created_at: `2025-10-14T12:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}.${String(i).padStart(3, '0').slice(-3)}Z`,
          device_id: `device_${i}`,
        }),
      ),
      '2025-10-14T13:00:00.000Z',
    ),
  );
  for (let i = 0; i < messages.length; i += 100)
    await storeAndFold(table.writer, table.counters, messages.slice(i, i + 100));
  return ['--endpoint', inject('dynamodbEndpoint'), '--table', table.tableName];
}

const quiet = (result: ToolRun, what: string) => {
  expect(result.code, `${what}: ${result.stderr}`).toBe(0);
  expect(result.stderr, what).not.toMatch(/EPIPE|\n\s+at /);
};

describe("a reader that closes the tools' stdout early", () => {
  it("ends each tool quietly with exit code 0: events query, stats, quarantine and export, send --json, the help of events, send, set-secret, dashboard and load, and campaign-inbox (the bin's entry) running events", {
    timeout: 240_000,
  }, async () => {
    const where = await tableWith(3);
    const day = ['--since', '2025-10-14', '--until', '2025-10-14'];
    const receiver = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        response.writeHead(202, { 'content-type': 'application/json' });
        response.end('{"status":"accepted"}');
      });
    });
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/sori`;
    try {
      const runs: [string, string[]][] = [
        ['events', ['query', '--json', ...day, ...where]],
        ['events', ['query', ...day, ...where]],
        ['events', ['stats', '--campaign', 'cmp_1234', ...where]],
        ['events', ['quarantine', ...where]],
        ['events', ['export', '--format', 'jsonl', ...where]],
        ['send', ['--json', '--url', url, '--secret', 'pipe-secret']],
        ['send', ['--url', url, '--secret', 'pipe-secret']],
        ['events', ['--help']],
        ['send', ['--help']],
        ['set-secret', ['--help']],
        ['dashboard', ['--help']],
        ['load', ['--help']],
        ['cli', ['events', 'query', '--json', ...day, ...where]],
        ['cli', ['--help']],
      ];
      const results = await Promise.all(runs.map(([tool, args]) => unread(tool, args)));
      // Every run that did not end quietly, named, so one failure does not hide the others.
      const loud = results
        .map((result, i) => ({ run: runs[i]?.flat().join(' '), code: result.code, stderr: result.stderr }))
        .filter((result) => result.code !== 0 || /EPIPE|\n\s+at /.test(result.stderr));
      expect(loud).toEqual([]);
    } finally {
      await new Promise((done) => receiver.close(done));
    }
  });

  it('ends events query --json quietly with exit code 0 when, like head -1, the reader takes the first chunk of an output larger than a pipe holds and closes', {
    timeout: 240_000,
  }, async () => {
    const where = await tableWith(600);
    const child = spawnTool(
      'events',
      ['query', '--json', '--since', '2025-10-14', '--until', '2025-10-14', '--limit', '1000', ...where],
      { cwd: ROOT, env },
    );
    let first = '';
    child.stdout?.once('data', (chunk: Buffer) => {
      first = chunk.toString();
      child.stdout?.destroy();
    });
    const result = await finished(child);
    quiet(result, 'events query --json');
    expect(JSON.parse(first.split('\n')[0] ?? '')).toMatchObject({ event: 'campaign.impression' });
  });
});
