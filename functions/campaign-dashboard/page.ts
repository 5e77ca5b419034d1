import { createHash } from 'node:crypto';

/** What the page reads from its `campaign-inbox-sign-in` element to sign the user in. */
export interface SignInSettings {
  signInUrl: string;
  clientId: string;
  redirectPath: string;
}

/** The page as served: its HTML and the Content-Security-Policy that lets exactly its own code run. */
export interface ServedPage {
  body: string;
  contentSecurityPolicy: string;
}

const hash = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** `<script>` elements the browser runs (no `src`, no data type such as `application/json`): their text. */
function inlineScripts(html: string): string[] {
  const scripts: string[] = [];
  for (const match of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi)) {
    const attributes = match[1] ?? '';
    if (/\bsrc\s*=/i.test(attributes)) continue;
    const type = /\btype\s*=\s*["']?([^"'\s>]+)/i.exec(attributes)?.[1]?.toLowerCase();
    if (type && type !== 'module' && !/^(text|application)\/(java|ecma)script$/.test(type)) continue;
    scripts.push(match[2] ?? '');
  }
  return scripts;
}

/**
 * The sign-in settings as the JSON of a data block. `<` is escaped so no value can close the element, and the
 * browser reads the same JSON back.
 */
function settingsElement(settings: SignInSettings): string {
  const json = JSON.stringify(settings).replace(/</g, '\\u003c');
  return `<script id="campaign-inbox-sign-in" type="application/json">${json}</script>`;
}

/**
 * The dashboard page with its sign-in settings injected at the end of `<head>`, and a Content-Security-Policy
 * that allows its inline script and styles by their SHA-256 (CSP Level 3 hashes; `'unsafe-hashes'` covers the
 * `style` attributes), data from this origin and the sign-in domain's token endpoint, and nothing else: no other
 * script, no frame around it, no form, no `<base>`.
 * @throws when the page has no `</head>`, at cold start.
 */
export function servedPage(html: string, settings: SignInSettings): ServedPage {
  const at = html.search(/<\/head>/i);
  if (at < 0) throw new Error('the dashboard page has no </head> to put its sign-in settings before');
  const body = `${html.slice(0, at)}  ${settingsElement(settings)}\n${html.slice(at)}`;
  const scripts = inlineScripts(body).map(hash);
  const styles = [...body.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style\s*>/gi)].map((m) => hash(m[1] ?? ''));
  const styleAttributes = [...body.matchAll(/\sstyle\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)].map((m) =>
    hash(m[1] ?? m[2] ?? ''),
  );
  const sources = (values: string[]) => [...new Set(values)].join(' ') || "'none'";
  const styleSources =
    styleAttributes.length > 0 ? [...styles, "'unsafe-hashes'", ...styleAttributes] : styles;
  const directives = [
    "default-src 'none'",
    `script-src ${sources(scripts)}`,
    `style-src ${sources(styleSources)}`,
    `connect-src 'self' ${new URL(settings.signInUrl).origin}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ];
  return { body, contentSecurityPolicy: directives.join('; ') };
}
