/**
 * The deployed receive function invoked as a Lambda function URL invokes it, beside the harness's API Gateway
 * events (test/support/deployed-receive.ts): the same loaded function, another event shape.
 *
 * ```ts
 * const receive = await loadDeployedReceive({ props: { frontDoor: 'functionUrl' } });
 * const { response } = await invokeFunctionUrl(receive, { path: '/webhooks/sori', headers, body });
 * ```
 *
 * A function URL has no routes: every path and method reaches the function, with the route key `$default`, no
 * path variables, the path in `rawPath` and `requestContext.http.path`, and the body base64-encoded unless its
 * content type is text.
 */
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, Handler } from 'aws-lambda';
import type { DeployedReceive, DeployedRequest } from './deployed-receive';

/**
 * The content types a function URL hands over as text: `text/*` and the JSON, XML and JavaScript types (with
 * any parameters); any other body, or one without a content type, comes base64-encoded.
 */
const TEXT_CONTENT_TYPE =
  /^(?:text\/[^;]+|application\/(?:[a-z0-9.+-]*\+)?(?:json|xml|javascript|x-www-form-urlencoded|yaml))(?:\s*;.*)?$/i;

/** The function URL's id, the first label of its domain name. */
const URL_ID = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * The event a function URL hands the function for `request` (payload format 2.0). `request.base64` forces the
 * body's encoding; by default it follows the content type as Lambda's does.
 */
export function functionUrlEvent(request: DeployedRequest): APIGatewayProxyEventV2 {
  const method = request.method ?? 'POST';
  const headers = Object.fromEntries(
    Object.entries(request.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const [path = '', query = ''] = request.path.split('?');
  const body = request.body;
  const base64 = request.base64 ?? !TEXT_CONTENT_TYPE.test(headers['content-type'] ?? '');
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query,
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: URL_ID,
      domainName: `${URL_ID}.lambda-url.us-east-1.on.aws`,
      domainPrefix: URL_ID,
      http: {
        method,
        path,
        protocol: 'HTTP/1.1',
        sourceIp: request.sourceIp ?? '203.0.113.10',
        userAgent: 'harness',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body === undefined
      ? { isBase64Encoded: false }
      : base64
        ? { body: Buffer.from(body).toString('base64'), isBase64Encoded: true }
        : { body, isBase64Encoded: false }),
  };
}

/**
 * Invokes the function `receive` loaded through its function URL's event shape. It is the handler module the
 * harness imported at load (Node's module cache hands back the same instance), so the environment, the stand-in
 * secret and the queue are the harness's.
 */
export async function invokeFunctionUrl(
  _receive: DeployedReceive,
  request: DeployedRequest,
): Promise<APIGatewayProxyStructuredResultV2> {
  const { handler } = (await import('../../functions/receive-webhook/handler')) as {
    handler: Handler<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>;
  };
  const deadline = Date.now() + 4_000;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'campaign-inbox-receive',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:campaign-inbox-receive',
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/campaign-inbox-receive',
    logStreamName: 'harness',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  } satisfies Context;
  return (await handler(functionUrlEvent(request), context, () => {})) as APIGatewayProxyStructuredResultV2;
}
