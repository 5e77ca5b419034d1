import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DeadlineExceededError } from '../../lib/aws/deadline';
import {
  PayloadTooLargeError,
  QueueUnavailableError,
  SecretUnavailableError,
  SignatureError,
  UnknownProviderError,
} from '../../lib/errors';
import type { Logger } from '../../lib/log';
import { METRIC, type MetricsSink } from '../../lib/metrics';
import { findProvider } from '../../lib/providers';
import { routeProvider } from './route-provider';

type Answer = { status: number; message: string; headers?: Record<string, string> };

/** The one place domain errors become HTTP answers. Anything unexpected is a 500 that reveals nothing. */
export function toHttpAnswer(error: unknown): Answer {
  if (error instanceof UnknownProviderError) return { status: 404, message: 'Not Found' };
  if (error instanceof PayloadTooLargeError) return { status: 413, message: 'Payload Too Large' };
  // Never say why a signature failed.
  if (error instanceof SignatureError) return { status: 401, message: 'Unauthorized' };
  // 503 makes the sender retry later: nothing was stored, so nothing is half-done. Time running out before the
  // queue said it took the message is the same case.
  if (error instanceof QueueUnavailableError || error instanceof DeadlineExceededError)
    return { status: 503, message: 'Service Unavailable', headers: { 'retry-after': '5' } };
  // No secret to verify with yet: the delivery may well be authentic, so ask for it again rather than refuse it.
  if (error instanceof SecretUnavailableError)
    return { status: 503, message: 'Service Unavailable', headers: { 'retry-after': '5' } };
  return { status: 500, message: 'Internal Server Error' };
}

/**
 * The provider a refusal is counted for: the one the route names, once the flow found it served (every error
 * but {@link UnknownProviderError} comes after that check), and only by the name this build gives it. A name
 * the flow did not serve is counted in the totals alone, so that no path segment becomes a metric dimension.
 */
function servedProvider(error: unknown, event: APIGatewayProxyEventV2): string | undefined {
  if (error instanceof UnknownProviderError) return undefined;
  return findProvider(routeProvider(event))?.name;
}

/**
 * Middy middleware rendering errors thrown by the receive flow, and counting every 4xx the function answers
 * as a refusal: a bad signature as `SignatureFailures`, anything else (an unknown provider, a body too large, a
 * method other than POST) as `Rejected`.
 */
export function renderHttpErrors(
  logger: Logger,
  metrics?: MetricsSink,
): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    // The flow answers another method than POST itself, before it looks for the provider: a refusal of no
    // provider's delivery.
    after: async (request) => {
      const status = request.response?.statusCode ?? 200;
      if (status >= 400 && status < 500) metrics?.count(METRIC.rejected);
    },
    onError: async (request) => {
      const answer = toHttpAnswer(request.error);
      const provider = servedProvider(request.error, request.event);
      if (request.error instanceof SignatureError)
        metrics?.count(METRIC.signatureFailures, 1, undefined, provider);
      else if (
        request.error instanceof QueueUnavailableError ||
        request.error instanceof DeadlineExceededError
      )
        metrics?.count(METRIC.queueFailures);
      else if (answer.status < 500) metrics?.count(METRIC.rejected, 1, undefined, provider);
      // The route key, never the raw path: a URL-token route carries its secret in the path.
      const fields = { status: answer.status, error: request.error, route: request.event.routeKey };
      if (answer.status >= 500) logger.error('receive failed', fields);
      else logger.warn('rejected', fields);
      request.response = {
        statusCode: answer.status,
        headers: { 'content-type': 'application/json', ...answer.headers },
        body: JSON.stringify({ message: answer.message }),
      };
    },
  };
}
