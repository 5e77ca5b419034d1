/**
 * The answer table every front door must give a webhook sender: the same requests, the same answers, whether
 * the receive function is reached through the HTTP API or a function URL, in this process or as its bundle.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { hexSignature, soriBody, soriPayload } from './deliveries';
import type { DeployedRequest } from './deployed-receive';

/** The SORI key the table's deliveries are signed with. */
export const SECRET = 'sk_front_door_0123456789';
/** The body limit the table is run with (`MAX_BODY_BYTES`), small so that a 413 costs little. */
export const MAX_BODY_BYTES = 4096;

export const signed = (body: string | Buffer, secret = SECRET, contentType = 'application/json') => ({
  'content-type': contentType,
  'x-sori-signature': hexSignature(body, secret),
});

export const click = soriBody('click');
/** Multi-byte UTF-8 and the sender's own spacing: the signature is over these bytes, not over a re-encoding. */
export const spaced = JSON.stringify(
  { ...soriPayload('impression'), activity_id: 'act_front_door_spaced', note: '캠페인 — “봄” 🌸' },
  null,
  3,
);
export const octets = JSON.stringify({ ...soriPayload('click'), activity_id: 'act_front_door_octets' });

export interface Row {
  name: string;
  request: DeployedRequest;
  status: number;
  /** A subset of the JSON answer. */
  answer?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export const ROWS: Row[] = [
  {
    name: 'a signed delivery',
    request: { path: '/webhooks/sori', headers: signed(click), body: click },
    status: 202,
    answer: { status: 'accepted' },
  },
  {
    name: 'a signed delivery in multi-byte UTF-8 with its own spacing',
    request: { path: '/webhooks/sori', headers: signed(spaced), body: spaced },
    status: 202,
    answer: { status: 'accepted' },
  },
  {
    name: 'a signed delivery of a non-text content type, handed over base64-encoded',
    request: {
      path: '/webhooks/sori',
      headers: signed(octets, SECRET, 'application/octet-stream'),
      body: octets,
      base64: true,
    },
    status: 202,
    answer: { status: 'accepted' },
  },
  {
    name: 'a wrong signature',
    request: { path: '/webhooks/sori', headers: signed(click, 'sk_wrong_0123456789'), body: click },
    status: 401,
    answer: { message: 'Unauthorized' },
  },
  {
    name: 'an app the secret does not name, signed with the default app key',
    request: { path: '/webhooks/sori/agency-z', headers: signed(click), body: click },
    status: 401,
    answer: { message: 'Unauthorized' },
  },
  {
    name: 'a provider not served',
    request: { path: '/webhooks/nobody', headers: signed(click), body: click },
    status: 404,
    answer: { message: 'Not Found' },
  },
  {
    name: 'a path outside /webhooks',
    request: { path: '/elsewhere', headers: signed(click), body: click },
    status: 404,
    answer: { message: 'Not Found' },
  },
  {
    name: 'a path one segment too deep',
    request: { path: '/webhooks/sori/agency-a/extra', headers: signed(click), body: click },
    status: 404,
    answer: { message: 'Not Found' },
  },
  {
    name: 'another method on a path outside /webhooks',
    request: { path: '/elsewhere', method: 'GET' },
    status: 404,
    answer: { message: 'Not Found' },
  },
  {
    name: 'another method than POST',
    request: { path: '/webhooks/sori', method: 'GET' },
    status: 405,
    answer: { message: 'Method Not Allowed' },
    headers: { allow: 'POST' },
  },
  {
    name: 'a body over the limit',
    request: {
      path: '/webhooks/sori',
      headers: signed('x'.repeat(MAX_BODY_BYTES + 1)),
      body: 'x'.repeat(MAX_BODY_BYTES + 1),
    },
    status: 413,
    answer: { message: 'Payload Too Large' },
  },
  {
    name: 'a signed payload that cannot be normalized',
    request: { path: '/webhooks/sori', headers: signed('{"broken'), body: '{"broken' },
    status: 202,
    answer: { status: 'quarantined' },
  },
];

/** The answer as a sender reads it: status, the JSON body's fields the row names, the headers it names. */
export function seen(response: APIGatewayProxyStructuredResultV2, row: Row) {
  const body = JSON.parse(String(response.body ?? '{}')) as Record<string, unknown>;
  return {
    status: response.statusCode,
    answer: Object.fromEntries(Object.keys(row.answer ?? {}).map((key) => [key, body[key]])),
    headers: Object.fromEntries(
      Object.keys(row.headers ?? {}).map((name) => [name, response.headers?.[name]]),
    ),
  };
}
