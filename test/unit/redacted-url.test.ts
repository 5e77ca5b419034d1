import { describe, expect, it } from 'vitest';
import { redactedUrl } from '../../lib/destinations/redacted-url';

describe('a destination URL as logs and outputs show it', () => {
  it('hides the userinfo and every query value, keeping the scheme, host, port, path and query names', () => {
    expect(redactedUrl('https://user:pass@hooks.example.com/path?token=abc')).toBe(
      'https://***@hooks.example.com/path?token=***',
    );
    expect(redactedUrl('http://hook-user:p%40ss@127.0.0.1:8080/a/b?key=k1&sig=s2&plain=3')).toBe(
      'http://***@127.0.0.1:8080/a/b?key=***&sig=***&plain=***',
    );
    expect(redactedUrl('https://only-user@example.com/')).toBe('https://***@example.com/');
    expect(redactedUrl('https://:only-pass@example.com/')).toBe('https://***@example.com/');
  });

  it('hides a query part that has no name, an empty value stays empty, and a fragment is hidden whole', () => {
    expect(redactedUrl('https://example.com/hook?s3cret')).toBe('https://example.com/hook?***');
    expect(redactedUrl('https://example.com/hook?a=&b=1')).toBe('https://example.com/hook?a=&b=***');
    expect(redactedUrl('https://example.com/hook#access_token=abc')).toBe('https://example.com/hook#***');
    expect(redactedUrl('https://example.com/hook?token=a=b#x')).toBe(
      'https://example.com/hook?token=***#***',
    );
  });

  it('leaves a URL with nothing to hide as it was given, an @ of its path included', () => {
    for (const url of [
      'https://example.com',
      'http://127.0.0.1:9/hooks/replay',
      'https://example.com/users/@me/hook',
      'http://sqs.us-east-1.127.0.0.1:4566/000000000000/queue',
      'arn:aws:events:us-east-1:123456789012:event-bus/default',
      'test/fixtures/reactions/replay-sink.ts',
    ]) {
      expect(redactedUrl(url)).toBe(url);
    }
  });

  it('hides everything up to the last @ of a URL no parser takes, so a password with a / or a # is not shown in part', () => {
    expect(redactedUrl('https://user:pa/ss@host/p?token=t')).toBe('https://***@host/p?token=***');
    expect(redactedUrl('https://user:pa#ss@host/p')).toBe('https://***@host/p');
    expect(redactedUrl('https://user:pa?ss@host:notaport/')).toBe('https://***@host:notaport/');
    for (const [url, secret] of [
      ['https://user:pa/ss@host/p?token=t', 'pa/ss'],
      ['https://user:pa#ss@host/p', 'pa#ss'],
      ['https://user:pa?ss@host:notaport/', 'pa?ss'],
    ] as const) {
      expect(redactedUrl(url)).not.toContain(secret.slice(0, 2));
      expect(redactedUrl(url)).not.toContain(secret.slice(-2));
    }
  });
});
