import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { servedPage } from '../../functions/campaign-dashboard/page';

const SETTINGS = {
  signInUrl: 'https://inbox-abc.auth.eu-west-1.amazoncognito.com',
  clientId: 'client',
  redirectPath: '/dashboard',
};
const sha = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const directive = (csp: string, name: string) =>
  csp
    .split('; ')
    .find((d) => d.startsWith(`${name} `))
    ?.slice(name.length + 1);

describe('the served dashboard page', () => {
  it('hashes the scripts the browser runs, not data blocks or scripts loaded by src', () => {
    const page = servedPage(
      '<html><head><script src="/x.js"></script><script type="application/ld+json">{"a":1}</script></head><body><script>run()</script><script type="module">go()</script></body></html>',
      SETTINGS,
    );
    expect(directive(page.contentSecurityPolicy, 'script-src')).toBe(`${sha('run()')} ${sha('go()')}`);
  });

  it('hashes its style elements and style attributes, the latter under unsafe-hashes, and allows no other style', () => {
    const page = servedPage(
      '<html><head><style>b{color:red}</style></head><body><i style="color:blue"></i><i style=\'margin:0\'></i></body></html>',
      SETTINGS,
    );
    expect(directive(page.contentSecurityPolicy, 'style-src')).toBe(
      `${sha('b{color:red}')} 'unsafe-hashes' ${sha('color:blue')} ${sha('margin:0')}`,
    );
    expect(servedPage('<html><head></head></html>', SETTINGS).contentSecurityPolicy).toContain(
      "style-src 'none'",
    );
  });

  it('puts the settings at the end of <head> so no value can close their element', () => {
    const page = servedPage('<html><head><title>t</title></head><body></body></html>', {
      ...SETTINGS,
      clientId: '</script><script>alert(1)</script>',
    });
    const element =
      /<script id="campaign-inbox-sign-in" type="application\/json">(.*?)<\/script>\n<\/head>/.exec(
        page.body,
      );
    expect(JSON.parse(element?.[1] ?? 'null')).toEqual({
      ...SETTINGS,
      clientId: '</script><script>alert(1)</script>',
    });
    expect(page.body.match(/<\/script>/g)).toHaveLength(1);
    expect(directive(page.contentSecurityPolicy, 'script-src')).toBe("'none'");
  });

  it('refuses a page without </head>', () => {
    expect(() => servedPage('<html><body></body></html>', SETTINGS)).toThrow('</head>');
  });
});
