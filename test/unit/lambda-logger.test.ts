import { afterEach, describe, expect, it, vi } from 'vitest';
import { createInvocationContext, createLambdaLogger } from '../../lib/log';

/** Every line the logger wrote to stdout and stderr, parsed, in order. */
function captureLines() {
  const lines: { stream: string; entry: Record<string, unknown> }[] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    vi.spyOn(process[stream], 'write').mockImplementation((chunk) => {
      lines.push({ stream, entry: JSON.parse(String(chunk)) });
      return true;
    });
  }
  return lines;
}

afterEach(() => vi.restoreAllMocks());

describe("the deployed functions' logger", () => {
  it("names the running invocation on every line as Powertools' injectLambdaContext does: cold start on the container's first only, then each invocation's own request id", () => {
    const lines = captureLines();
    const invocation = createInvocationContext();
    const logger = createLambdaLogger('repair-counters', 'info', invocation.fields);
    const lambda = {
      functionName: 'Inbox-Repair',
      invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:Inbox-Repair',
      memoryLimitInMB: '256',
    };

    invocation.start({ ...lambda, awsRequestId: 'req-1' });
    logger.info('repair pass', { folded: 2 });
    invocation.start({ ...lambda, awsRequestId: 'req-2' });
    logger.warn('not settled; the next pass retries it', { error: new RangeError('throttled') });

    expect(lines).toEqual([
      {
        stream: 'stdout',
        entry: {
          level: 'INFO',
          message: 'repair pass',
          service: 'repair-counters',
          timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
          cold_start: true,
          function_arn: lambda.invokedFunctionArn,
          function_memory_size: 256,
          function_name: 'Inbox-Repair',
          function_request_id: 'req-1',
          folded: 2,
        },
      },
      {
        stream: 'stderr',
        entry: expect.objectContaining({
          level: 'WARN',
          cold_start: false,
          function_request_id: 'req-2',
          error: { name: 'RangeError', message: 'throttled' },
        }),
      },
    ]);
  });

  it('writes no invocation fields before the first invocation, and only those a partial context gives', () => {
    const lines = captureLines();
    const invocation = createInvocationContext();
    const logger = createLambdaLogger('on-event', 'info', invocation.fields);
    logger.info('loaded');
    invocation.start({ functionName: 'bundle-test', awsRequestId: 'bundle-test' });
    logger.info('ran');
    expect(lines.map((line) => Object.keys(line.entry).sort())).toEqual([
      ['level', 'message', 'service', 'timestamp'],
      ['cold_start', 'function_name', 'function_request_id', 'level', 'message', 'service', 'timestamp'],
    ]);
  });
});
