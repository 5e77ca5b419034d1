import { type ChildProcess, spawn } from 'node:child_process';
import { get as httpGet } from 'node:http';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { SORI_FIXTURES, soriBody } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();

describe('npm run dashboard', () => {
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });

  it('serves the dashboard on 127.0.0.1 from any records table it is pointed at', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const messages = SORI_FIXTURES.map((name) =>
      buildQueueMessage(sori, Buffer.from(soriBody(name)), new Date().toISOString()),
    );
    await storeAndFold(writer, counters, messages);

    // --endpoint/--table stands in for --stack, which resolves the same table from the stack's outputs in AWS.
    // Node itself with tsx's loader: one process, which SIGTERM stops (no npx or tsx wrapper left behind).
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/dashboard.ts',
        '--endpoint',
        inject('dynamodbEndpoint'),
        '--table',
        tableName,
        '--port',
        '0',
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'local',
          AWS_SECRET_ACCESS_KEY: 'local',
          AWS_REGION: 'us-east-1',
        },
      },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let seen = '';
      child?.stderr?.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const match = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(seen);
        if (match?.[1]) resolve(match[1]);
      });
      child?.on('exit', (code) => reject(new Error(`dashboard exited with ${code}: ${seen}`)));
    });
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Impressions and clicks per hour');
    const data = (await (await fetch(`${url}api/dashboard?day=2025-10-14`)).json()) as {
      campaigns: { campaign_id: string; impressions: number; clicks: number }[];
    };
    expect(data.campaigns).toEqual([
      expect.objectContaining({ campaign_id: 'cmp_1234', impressions: 1, clicks: 1 }),
    ]);
    for (const day of ['2025-13-01', '2025-02-30']) {
      expect((await fetch(`${url}api/dashboard?day=${day}`)).status, day).toBe(400);
    }
    // A page on another name pointed at 127.0.0.1 (DNS rebinding) gets nothing; localhost does.
    const statusFor = (host: string, path: string) =>
      new Promise<number | undefined>((resolve, reject) =>
        httpGet(`${url}${path}`, { headers: { host } }, (response) => {
          response.resume();
          resolve(response.statusCode);
        }).on('error', reject),
      );
    const port = new URL(url).port;
    expect(await statusFor(`evil.example:${port}`, 'api/dashboard')).toBe(403);
    expect(await statusFor(`evil.example:${port}`, '')).toBe(403);
    expect(await statusFor(`localhost:${port}`, 'api/dashboard')).toBe(200);
  });
});
