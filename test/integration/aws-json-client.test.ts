import { afterEach, describe, expect, inject, it } from 'vitest';
import { AwsTimeoutError, serviceEndpoint } from '../../lib/aws/aws-json-client';
import { DeadlineExceededError } from '../../lib/aws/deadline';
import { sqsSendMessage } from '../../lib/receive/services';
import { createTestQueues, localClients, takeMessages } from '../support/local-aws';
import { SQS_OK, type SqsReply, sdkAuthorization, startSqsStandIn } from '../support/sqs-stand-in';

const { sqs } = localClients();
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const LOCAL_SQS = { AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint') };

describe("the receive function's SQS client, against the local SQS server", () => {
  it('sends a message the queue then hands out byte for byte', async () => {
    const { queueUrl } = await createTestQueues(sqs);
    const send = sqsSendMessage('us-east-1', { credentials: () => CREDENTIALS }, LOCAL_SQS);
    const body = JSON.stringify({ text: 'quotes " backslash \\ ascii only', n: 1 });
    const answer = (await send({ QueueUrl: queueUrl, MessageBody: body })) as { MessageId?: string };
    expect(answer.MessageId).toEqual(expect.any(String));
    expect(await takeMessages(sqs, queueUrl)).toEqual([body]);
  });

  it("names the service's refusal (a queue that does not exist) and does not retry it", async () => {
    const { queueUrl } = await createTestQueues(sqs);
    const missing = `${queueUrl}-missing`;
    const send = sqsSendMessage('us-east-1', { credentials: () => CREDENTIALS }, LOCAL_SQS);
    await expect(send({ QueueUrl: missing, MessageBody: 'x' })).rejects.toMatchObject({
      name: expect.stringMatching(/QueueDoesNotExist|NonExistentQueue/),
      retryable: false,
    });
  });
});

// The stand-in answers with scripted failures the local server cannot be made to produce on demand.
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

/** SendMessage through our client, against a stand-in that answers with `replies`. */
async function scripted(replies: SqsReply[], tuning: { maxAttempts?: number; timeoutMs?: number } = {}) {
  const standIn = await startSqsStandIn(replies);
  close = standIn.close;
  const send = sqsSendMessage(
    'us-east-1',
    { maxAttempts: 2, ...tuning, credentials: () => CREDENTIALS },
    { AWS_ENDPOINT_URL_SQS: standIn.endpoint },
  );
  return { seen: standIn.seen, requests: standIn.requests, ports: standIn.ports, send };
}

const OK = SQS_OK;
const INPUT = { QueueUrl: 'https://sqs.us-east-1.amazonaws.com/000000000000/events', MessageBody: '{}' };

describe("the receive function's SQS client, when SQS fails", () => {
  it('retries a 5xx once and succeeds', async () => {
    const { seen, requests, send } = await scripted([
      { status: 503, body: { __type: 'ServiceUnavailable' } },
      OK,
    ]);
    await expect(send(INPUT)).resolves.toEqual({ MessageId: 'm-1' });
    expect(seen).toHaveLength(2);
    // Each try signed anew, and right: the SDK's own signer computes the same signature.
    for (const request of requests) {
      expect(
        await sdkAuthorization(request, { service: 'sqs', region: 'us-east-1', credentials: CREDENTIALS }),
      ).toBe(request.headers.authorization);
    }
    expect(seen[1]?.['x-amz-target']).toBe('AmazonSQS.SendMessage');
    expect(seen[1]?.['content-type']).toBe('application/x-amz-json-1.0');
  });

  it('retries throttling, and gives up after its attempts with the service’s code', async () => {
    const throttled = {
      status: 400,
      body: { __type: 'com.amazonaws.sqs#RequestThrottled', message: 'slow down' },
    };
    const { seen, send } = await scripted([throttled]);
    await expect(send(INPUT)).rejects.toMatchObject({ name: 'RequestThrottled', message: 'slow down' });
    expect(seen).toHaveLength(2);
  });

  it('does not retry a refusal that would repeat (a 400 that is not throttling)', async () => {
    const { seen, send } = await scripted([
      { status: 400, body: { __type: 'com.amazonaws.sqs#InvalidParameterValue', message: 'bad' } },
    ]);
    await expect(send(INPUT)).rejects.toMatchObject({ name: 'InvalidParameterValue', retryable: false });
    expect(seen).toHaveLength(1);
  });

  it('gives up on a queue that does not answer within its time, each attempt, then says so', async () => {
    const { seen, send } = await scripted(['hang'], { timeoutMs: 200 });
    await expect(send(INPUT)).rejects.toBeInstanceOf(AwsTimeoutError);
    expect(seen).toHaveLength(2);
  });

  it('retries an answer cut off mid-way, and succeeds', async () => {
    const { seen, send } = await scripted(['cut', OK]);
    await expect(send(INPUT)).resolves.toEqual({ MessageId: 'm-1' });
    expect(seen).toHaveLength(2);
  });

  it('keeps its connection alive between calls, and sends again on a new one when the kept one was closed, without spending a try', async () => {
    const { seen, ports, send } = await scripted([OK, OK, 'drop', OK], { maxAttempts: 1 });
    await send(INPUT);
    await send(INPUT);
    expect(ports[1]).toBe(ports[0]);
    // The third call finds its kept connection closed (answered by nothing); one try is enough all the same.
    await expect(send(INPUT)).resolves.toEqual({ MessageId: 'm-1' });
    expect(seen).toHaveLength(4);
    expect(ports[3]).not.toBe(ports[0]);
  });

  it('keeps the security token a signature error quotes out of its error (and so out of the logs)', async () => {
    const message =
      "The request signature we calculated does not match the signature you provided.\n\nThe Canonical String for this request should have been\n'POST\n/\n\nx-amz-security-token:IQoJSECRETTOKEN\n'";
    const { send } = await scripted([
      { status: 403, body: { __type: 'InvalidSignatureException', message } },
    ]);
    const error = (await send(INPUT).catch((caught: unknown) => caught)) as Error;
    expect(error.name).toBe('InvalidSignatureException');
    expect(error.message).toBe(
      'The request signature we calculated does not match the signature you provided.',
    );
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain('IQoJSECRETTOKEN');
  });

  it('fails at once, without a request, when the environment holds no credentials', async () => {
    const standIn = await startSqsStandIn([OK]);
    close = standIn.close;
    const seen = standIn.seen;
    const send = sqsSendMessage(
      'us-east-1',
      {
        credentials: () => {
          throw new Error('no AWS credentials in the environment');
        },
      },
      { AWS_ENDPOINT_URL_SQS: standIn.endpoint },
    );
    await expect(send(INPUT)).rejects.toThrow(/no AWS credentials/);
    expect(seen).toHaveLength(0);
  });
});

describe("the receive function's SQS client, against the invocation's deadline", () => {
  // Margins for a loaded machine: a cut at the deadline may come this much late and still pass, while a try
  // that ran to its own limit, or a resend given a fresh one, comes a second or more late.
  const LATE_AT_MOST = 700;

  it('cuts a try at the deadline when that comes before its own limit, and starts no other after it', async () => {
    const { seen, send } = await scripted(['hang'], { maxAttempts: 3, timeoutMs: 3_000 });
    const deadline = Date.now() + 1_000;
    const error = await send(INPUT, deadline).catch((caught: unknown) => caught);
    const settledAt = Date.now();
    expect(error).toBeInstanceOf(AwsTimeoutError);
    expect(settledAt).toBeLessThan(deadline + LATE_AT_MOST);
    expect(seen).toHaveLength(1);
  });

  it('starts no try at all once the deadline has passed', async () => {
    const { seen, send } = await scripted([OK]);
    await expect(send(INPUT, Date.now() - 1)).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(seen).toHaveLength(0);
  });

  it('counts the resend after a kept-alive connection is found closed against the same deadline', async () => {
    // The kept connection is closed by the service only after holding the request a second, as when it drops
    // idle connections: the resend on a new connection has what is left before the deadline, not a try's worth.
    const { seen, ports, send } = await scripted([OK, { dropAfterMs: 1_000 }, 'hang'], {
      maxAttempts: 1,
      timeoutMs: 5_000,
    });
    await send(INPUT);
    const deadline = Date.now() + 2_000;
    const error = await send(INPUT, deadline).catch((caught: unknown) => caught);
    const settledAt = Date.now();
    expect(error).toBeInstanceOf(AwsTimeoutError);
    expect(seen).toHaveLength(3);
    expect(ports[1]).toBe(ports[0]);
    expect(ports[2]).not.toBe(ports[1]);
    expect(settledAt).toBeLessThan(deadline + LATE_AT_MOST);
  });
});

describe("the receive function's SQS client, when SQS answers 2xx without a MessageId", () => {
  const INCOMPLETE: [string, SqsReply][] = [
    ['an empty body', { status: 200, raw: '' }],
    ['a JSON body without a MessageId', { status: 200, body: { MD5OfMessageBody: 'x' } }],
    ['a body that is not JSON', { status: 200, raw: '<html>' }],
  ];

  it.each(INCOMPLETE)('does not take %s for a sent message: it tries again', async (_, reply) => {
    const { seen, send } = await scripted([reply, OK]);
    await expect(send(INPUT)).resolves.toEqual({ MessageId: 'm-1' });
    expect(seen).toHaveLength(2);
  });

  it.each(INCOMPLETE)('fails when every try gets %s', async (_, reply) => {
    const { seen, send } = await scripted([reply]);
    await expect(send(INPUT)).rejects.toMatchObject({ retryable: true });
    expect(seen).toHaveLength(2);
  });
});

describe('AwsJsonClient', () => {
  it('refuses an endpoint with a path, which it would not sign', () => {
    expect(() =>
      sqsSendMessage('us-east-1', {}, { AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9/queue' }),
    ).toThrow(/without a path/);
  });
});

describe('serviceEndpoint', () => {
  it('reads the endpoint settings the SDK reads, else the regional endpoint of the partition', () => {
    expect(serviceEndpoint('sqs', 'eu-west-1', {})).toBe('https://sqs.eu-west-1.amazonaws.com');
    expect(serviceEndpoint('secretsmanager', 'cn-north-1', {})).toBe(
      'https://secretsmanager.cn-north-1.amazonaws.com.cn',
    );
    expect(serviceEndpoint('sqs', 'eu-west-1', { AWS_ENDPOINT_URL: 'http://a' })).toBe('http://a');
    expect(
      serviceEndpoint('sqs', 'eu-west-1', { AWS_ENDPOINT_URL: 'http://a', AWS_ENDPOINT_URL_SQS: 'http://b' }),
    ).toBe('http://b');
    expect(
      serviceEndpoint('secretsmanager', 'eu-west-1', { AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://c' }),
    ).toBe('http://c');
  });
});
