/**
 * A proxy in front of a real local server that holds each request for a scripted time before passing it on:
 * slowness no local server can be asked for. Each request takes the next delay, the last one repeating, counted
 * from when the delays were last set; `hang`
 * never passes the request on. A request whose sender gave up while it was held is dropped, never passed on,
 * as a service never reached does not act on it.
 */
import { createServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyDelay = number | 'hang';

export interface SlowProxy {
  endpoint: string;
  /** Requests received, whether passed on or not. */
  readonly received: number;
  /** Requests passed on to the server (and so acted on). */
  readonly forwarded: number;
  /** The delays of the requests to come, the last one repeating; setting them starts the script over. */
  delays: ProxyDelay[];
  close(): Promise<void>;
}

export async function startSlowProxy(target: string, delays: ProxyDelay[] = [0]): Promise<SlowProxy> {
  const state = { received: 0, forwarded: 0, delays, next: 0 };
  const held: ServerResponse[] = [];
  const server = createServer(async (request, response) => {
    const delay = state.delays[Math.min(state.next, state.delays.length - 1)] ?? 0;
    state.next++;
    state.received++;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    held.push(response);
    if (delay === 'hang') return;
    let gone = false;
    response.on('close', () => {
      gone = true;
    });
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (gone || response.writableEnded) return;
    state.forwarded++;
    const upstream = httpRequest(
      new URL(request.url ?? '/', target),
      { method: request.method, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on('error', () => response.destroy());
    upstream.end(Buffer.concat(chunks));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get received() {
      return state.received;
    },
    get forwarded() {
      return state.forwarded;
    },
    get delays() {
      return state.delays;
    },
    set delays(next) {
      state.delays = next;
      state.next = 0;
    },
    close: async () => {
      for (const response of held) response.destroy();
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}
