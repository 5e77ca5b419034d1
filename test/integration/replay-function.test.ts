import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { invokeAsync } from '../../functions/replay-events/invoke-self';
import {
  type ReplayLegResult,
  type ReplayRequest,
  ReplayRequestError,
  replayLeg,
} from '../../functions/replay-events/replay-events';
import { HttpDestination } from '../../lib/destinations/http';
import { RangeReader } from '../../lib/replay/range-reader';
import { DEFAULT_LAYOUT } from '../../lib/table/records-table';
import { createTestTable, localClients } from '../support/local-aws';
import { DAY_END, DAY_START, REPLAY_DAY, storeReplayDay } from '../support/replay-events';

const { dynamodb } = localClients();
const servers: Server[] = [];
afterAll(async () => {
  for (const server of servers) await new Promise((done) => server.close(done));
});

/** A local server answering each request with `answer`, keeping what it was sent. */
async function server(answer: (count: number) => number) {
  const requests: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let count = 0;
  const http = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = answer(++count);
      if (status < 300)
        requests.push({
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString(),
        });
      response.writeHead(status).end();
    });
  });
  servers.push(http);
  await new Promise<void>((done) => http.listen(0, '127.0.0.1', done));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, requests };
}

/**
 * Drives a replay as Lambda would: each leg's request goes through JSON (an invocation's payload), the next leg
 * is run once the one before has returned, and a leg that throws is run again with its request unchanged (Lambda
 * retries an asynchronous invocation twice). Each leg is given `pagesPerLeg` pages of time.
 */
async function runLegs(
  first: ReplayRequest,
  deps: Omit<Parameters<typeof replayLeg>[1], 'continueWith' | 'remainingMs'>,
  pagesPerLeg: number,
) {
  const queue: string[] = [JSON.stringify(first)];
  const results: (ReplayLegResult | Error)[] = [];
  let retries = 0;
  while (queue.length > 0) {
    const payload = queue.shift() as string;
    let pages = 0;
    try {
      results.push(
        await replayLeg(JSON.parse(payload) as ReplayRequest, {
          ...deps,
          // The time left shrinks by a page's worth at each page asked for.
          remainingMs: () => (pages++ < pagesPerLeg ? 900_000 : 1_000),
          continueWith: async (next) => {
            queue.push(JSON.stringify(next));
          },
        }),
      );
    } catch (error) {
      results.push(error as Error);
      if (retries++ < 2) queue.unshift(payload);
    }
  }
  return results;
}

describe('the replay function', () => {
  it('replays a day in legs, each invoking the next with its cursor before its time runs out: every event of the day sent once, none outside it', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const { inside, outside } = await storeReplayDay(writer, counters, {
      campaignA: 60,
      campaignB: 30,
      authentications: 20,
    });
    const endpoint = await server(() => 200);
    const reader = new RangeReader({ client: dynamodb, tableName, layout: DEFAULT_LAYOUT, pageSize: 25 });
    const results = await runLegs(
      { since: REPLAY_DAY, until: REPLAY_DAY, to: 'http' },
      { reader, destinations: { http: new HttpDestination({ url: endpoint.url }) }, reserveMs: 60_000 },
      3,
    );
    const last = results.at(-1) as ReplayLegResult;
    expect(last.status).toBe('complete');
    expect(results.length).toBeGreaterThan(2);
    expect(last).toMatchObject({ sent: inside.size, legs: results.length });
    const ids = endpoint.requests.map(
      (request) => (JSON.parse(request.body) as { record_id: string }).record_id,
    );
    expect(ids.sort()).toEqual([...inside].sort());
    expect(ids.filter((id) => outside.has(id))).toEqual([]);
  });

  it('a leg whose destination fails is run again from the cursor it started with, so each event still arrives at least once', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const { inside } = await storeReplayDay(writer, counters, {
      campaignA: 50,
      campaignB: 10,
      authentications: 10,
    });
    // The endpoint fails hard for a while in the middle of the replay (its 40th to 43rd requests, two legs' worth
    // with two tries per event), then recovers.
    const endpoint = await server((count) => (count >= 40 && count < 44 ? 500 : 200));
    const reader = new RangeReader({ client: dynamodb, tableName, layout: DEFAULT_LAYOUT, pageSize: 20 });
    const results = await runLegs(
      { since: DAY_START, until: DAY_END, to: 'http' },
      {
        reader,
        destinations: {
          http: new HttpDestination({ url: endpoint.url, attempts: 2, backoffMs: 1, concurrency: 1 }),
        },
        reserveMs: 60_000,
      },
      2,
    );
    expect(results.filter((result) => result instanceof Error)).toHaveLength(2);
    expect((results.at(-1) as ReplayLegResult).status).toBe('complete');
    const ids = endpoint.requests.map(
      (request) => (JSON.parse(request.body) as { record_id: string }).record_id,
    );
    expect(new Set(ids)).toEqual(inside);
  });

  it('refuses a destination the stack did not configure, and a malformed range', async () => {
    const { tableName } = await createTestTable(dynamodb);
    const deps = {
      reader: new RangeReader({ client: dynamodb, tableName, layout: DEFAULT_LAYOUT }),
      destinations: {},
      remainingMs: () => 900_000,
      reserveMs: 1,
      continueWith: async () => {},
    };
    await expect(replayLeg({ since: DAY_START, until: DAY_END, to: 'sqs' }, deps)).rejects.toThrow(
      ReplayRequestError,
    );
    await expect(replayLeg({ since: 'yesterday', until: DAY_END, to: 'sqs' }, deps)).rejects.toThrow(
      'since must be an ISO 8601 date or date-time',
    );
  });

  it('invokes the next leg asynchronously: a POST to Invoke with the Event invocation type, signed for lambda', async () => {
    const lambda = await server(() => 202);
    await invokeAsync(
      { since: DAY_START, until: DAY_END, to: 'http', leg: 2 },
      {
        region: 'eu-west-1',
        functionName: 'replay-fn',
        credentials: () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' }),
        env: { AWS_ENDPOINT_URL_LAMBDA: lambda.url },
      },
    );
    const [request] = lambda.requests;
    expect(request?.path).toBe('/2015-03-31/functions/replay-fn/invocations');
    expect(request?.headers['x-amz-invocation-type']).toBe('Event');
    expect(request?.headers['x-amz-security-token']).toBe('token');
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=\S*x-amz-invocation-type/,
    );
    expect(JSON.parse(request?.body ?? '')).toEqual({ since: DAY_START, until: DAY_END, to: 'http', leg: 2 });
    const refusing = await server(() => 403);
    await expect(
      invokeAsync(
        {},
        {
          region: 'eu-west-1',
          functionName: 'f',
          credentials: () => ({ accessKeyId: 'a', secretAccessKey: 'b' }),
          env: { AWS_ENDPOINT_URL_LAMBDA: refusing.url },
        },
      ),
    ).rejects.toThrow('Lambda did not take the next leg (403)');
  });
});
