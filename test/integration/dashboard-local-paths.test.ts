/**
 * The local dashboard serves its page at `/` only: a path that a URL parser would read as another host
 * (`//other.example/`) is not the page, whose drill-down links are built from the path it was served at.
 * Against the local stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../../local/local-stack';
import { memoryLogger } from '../support/deliveries';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack({
    port: 0,
    secret: 'sk_local_paths_0123456789',
    logger: memoryLogger().logger,
  });
});
afterAll(() => stack?.stop());

/** A GET with the request target exactly as given (fetch would normalise it). */
async function get(target: string): Promise<number> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: stack.port, path: target, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the local dashboard page', () => {
  it('is served at / and not at //other.example/', async () => {
    expect(await get('/')).toBe(200);
    expect(await get('//evil.example/')).not.toBe(200);
    expect(await get('//evil.example')).not.toBe(200);
  });
});
