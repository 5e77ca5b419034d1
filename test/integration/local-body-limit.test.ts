import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiGatewayServer } from '../../local/api-gateway-server';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { hexSignature, memoryLogger, soriBody } from '../support/deliveries';

const SECRET = 'sk_body_limit';
/** SORI's own limit on a body: the deployed function answers 413 above it. */
const SORI_LIMIT = 256 * 1024;
let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, secret: SECRET, logger: memoryLogger().logger });
});

afterAll(async () => {
  await stack.stop();
});

/** Sends the request line and headers only, and waits for the answer: none of the declared body follows. */
function headersOnly(port: number, path: string, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          connection: response.headers.connection,
        }),
      );
    });
    request.on('error', reject);
    request.flushHeaders();
  });
}

/**
 * Streams a chunked body of 64 KiB pieces, as fast as the server reads them, until it answers (or 12 MiB went).
 * @returns the answer and the bytes sent before it came.
 */
function chunkedUntilAnswered(port: number, path: string) {
  return new Promise<{ response: IncomingMessage; body: string }>((resolve, reject) => {
    let answered = false;
    const request = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'application/json' } },
      (response) => {
        answered = true;
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ response, body: Buffer.concat(chunks).toString() }));
      },
    );
    // The server closing the connection after its answer cuts the upload short: expected, not a failure.
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    const piece = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (!answered && sent < 12 * 1024 * 1024) {
        sent += piece.length;
        if (!request.write(piece)) return void request.once('drain', pump);
      }
      if (!answered) request.end();
    };
    pump();
  });
}

describe('local API Gateway: a body over the limit', () => {
  it("answers the deployed function's 413 from a Content-Length over SORI's 256 KiB before reading any of the body, and closes the connection", async () => {
    const answer = await headersOnly(stack.port, '/webhooks/sori', {
      'content-type': 'application/json',
      'content-length': String(10 * 1024 * 1024),
      'x-sori-signature': hexSignature(soriBody('click'), SECRET),
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual({ message: 'Payload Too Large' });
    expect(answer.connection).toBe('close');
  });

  it('stops reading a chunked body at the route limit and answers 413, with the connection closed', async () => {
    const server = await startApiGatewayServer({
      port: 0,
      routes: [
        {
          routeKey: 'ANY /upload',
          pattern: /^\/upload$/,
          params: [],
          bodyLimit: () => SORI_LIMIT,
          tooLarge: () => ({ statusCode: 413, body: JSON.stringify({ message: 'Payload Too Large' }) }),
          handler: async () => ({ statusCode: 202, body: '{}' }),
        },
      ],
    });
    const sockets: Socket[] = [];
    server.server.on('connection', (socket: Socket) => sockets.push(socket));
    try {
      const { response, body } = await chunkedUntilAnswered(server.port, '/upload');
      expect(response.statusCode).toBe(413);
      expect(JSON.parse(body)).toEqual({ message: 'Payload Too Large' });
      expect(response.headers.connection).toBe('close');
      const [socket] = sockets;
      // The limit, and what was on its way in socket buffers when the reading stopped: far from the 12 MiB sent.
      expect(socket?.bytesRead).toBeLessThan(SORI_LIMIT + 1024 * 1024);
    } finally {
      await server.stop(100);
    }
  });

  it('still reads and handles a body within the limit, and reads none for a provider that does not exist', async () => {
    const body = soriBody('click');
    const accepted = await fetch(stack.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, SECRET) },
      body,
    });
    expect(accepted.status).toBe(202);
    const unknown = await headersOnly(stack.port, '/webhooks/acme', {
      'content-type': 'application/json',
      'content-length': String(10 * 1024 * 1024),
    });
    expect(unknown.status).toBe(404);
    expect(unknown.connection).toBe('close');
  });
});
