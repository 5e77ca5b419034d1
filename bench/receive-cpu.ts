// Receive CPU per event: the deployed receive function (its composition, log level and metrics) against the
// typical build of the same flow with its usual deployed settings, both bundled as the stack bundles (see
// receive-builds.ts) and run in this process, SQS answered by a stub transport.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { signBody } from '../lib/signature/verify-signature';
import { bundle } from './cold-start';
import { DEPLOYED_LOG_LEVEL, type Invoke, SECRET, type SendMode } from './receive-builds';

process.env.POWERTOOLS_LOG_LEVEL = DEPLOYED_LOG_LEVEL;
const FIXTURES = ['impression', 'click', 'authentication', 'admin-material-created'];

function events(): APIGatewayProxyEventV2[] {
  return FIXTURES.map((name) => {
    const body = JSON.stringify(
      JSON.parse(
        readFileSync(join(import.meta.dirname, '../examples/payloads/sori', `${name}.json`), 'utf8'),
      ),
    );
    return {
      version: '2.0',
      routeKey: 'ANY /webhooks/{provider}',
      rawPath: '/webhooks/sori',
      rawQueryString: '',
      headers: {
        'content-type': 'application/json',
        'x-sori-signature': signBody(body, SECRET).toString('hex'),
      },
      pathParameters: { provider: 'sori' },
      requestContext: {
        accountId: '0',
        apiId: 'bench',
        domainName: 'bench',
        domainPrefix: 'bench',
        http: {
          method: 'POST',
          path: '/webhooks/sori',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'bench',
        },
        requestId: 'bench',
        routeKey: 'ANY /webhooks/{provider}',
        stage: '$default',
        time: '',
        timeEpoch: 0,
      },
      body,
      isBase64Encoded: false,
    } as APIGatewayProxyEventV2;
  });
}

/**
 * Sends what the functions write (logs, metrics) to /dev/null while they are measured: each line still costs
 * its formatting and a write system call, as in Lambda, but no terminal slows either side down.
 */
function quiet<T>(run: () => Promise<T>): Promise<T> {
  const out = process.stdout.write;
  const err = process.stderr.write;
  const devNull = openSync('/dev/null', 'w');
  const write = ((chunk: string | Uint8Array) => {
    if (typeof chunk === 'string') writeSync(devNull, chunk);
    else writeSync(devNull, chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = write;
  process.stderr.write = write;
  return run().finally(() => {
    process.stdout.write = out;
    process.stderr.write = err;
    closeSync(devNull);
  });
}

/** CPU microseconds (user + system) per event over `n` invocations, after a warm-up. */
async function cpuPerEvent(invoke: Invoke, n: number): Promise<number> {
  return quiet(() => measure(invoke, n));
}

async function measure(invoke: Invoke, n: number): Promise<number> {
  const inputs = events();
  for (let i = 0; i < 1000; i++) {
    const input = inputs[i % inputs.length] as APIGatewayProxyEventV2;
    await invoke({ ...input, headers: { ...input.headers } });
  }
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    // A fresh event each time, as Lambda gives: the typical middleware set rewrites the event it is handed.
    const input = inputs[i % inputs.length] as APIGatewayProxyEventV2;
    const result = (await invoke({ ...input, headers: { ...input.headers } })) as { statusCode: number };
    if (result.statusCode !== 202) {
      throw new Error(`benchmark delivery ${i % inputs.length} answered ${JSON.stringify(result)}`);
    }
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / n;
}

export interface ReceiveCpuFigures {
  oursMicros: number;
  typicalMicros: number;
  oursEventsPerSecond: number;
  typicalEventsPerSecond: number;
  ratio: number;
}

/** Alternates both flows `rounds` times and keeps each one's median. */
export async function measureReceiveCpu(mode: SendMode, n = 10_000, rounds = 5): Promise<ReceiveCpuFigures> {
  const builds = (await import(
    await bundle('receive-builds', join(import.meta.dirname, 'receive-builds.ts'), [])
  )) as typeof import('./receive-builds');
  const ours = builds.ourHandler(mode);
  const typical = builds.typicalHandler(mode);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(await cpuPerEvent(ours, n));
    b.push(await cpuPerEvent(typical, n));
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const oursMicros = median(a);
  const typicalMicros = median(b);
  return {
    oursMicros,
    typicalMicros,
    oursEventsPerSecond: 1e6 / oursMicros,
    typicalEventsPerSecond: 1e6 / typicalMicros,
    ratio: oursMicros / typicalMicros,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log('own work', await measureReceiveCpu('serialize-only'));
  console.log('with the SDK call', await measureReceiveCpu('send'));
}
