/** What stands in for each hidden part. */
const HIDDEN = '***';

/** A URL's scheme and the `//` of its authority: what is after it, up to an `@`, is the userinfo. */
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** `true` when the WHATWG URL parser reads `text` as a URL that has a user name or a password. */
function parsedUserinfo(text: string): boolean | undefined {
  try {
    const url = new URL(text);
    return url.username !== '' || url.password !== '';
  } catch {
    return undefined;
  }
}

/**
 * Where the userinfo's `@` is in `text` (the index just past it), `0` for none. For a URL the parser takes, the
 * last `@` of its authority (which ends at the first `/`, `?`, `#` or `\`), as the parser reads it; for one it
 * refuses, the last `@` of the whole text, so that a password holding one of those is never shown in part.
 */
function userinfoEnd(text: string, schemeLength: number): number {
  const parsed = parsedUserinfo(text);
  if (parsed === false) return 0;
  const rest = text.slice(schemeLength);
  const authority = parsed ? rest.slice(0, rest.search(/[/?#\\]|$/)) : rest;
  const at = authority.lastIndexOf('@');
  return at < 0 ? 0 : schemeLength + at + 1;
}

/** Each `name=value` of a query as `name=***`, and a part with no name as `***` (an empty value stays empty). */
const hiddenQuery = (query: string) =>
  query
    .split('&')
    .map((part) => {
      const equals = part.indexOf('=');
      if (equals < 0) return part === '' ? part : HIDDEN;
      return equals === part.length - 1 ? part : `${part.slice(0, equals + 1)}${HIDDEN}`;
    })
    .join('&');

/**
 * A destination URL as a log line or a command's output may show it: its userinfo (`user:pass@`), each of its
 * query's values and its fragment replaced by `***` (`https://***@host/path?token=***`), since webhook receivers
 * take a secret in any of them (basic authentication, `?token=`, `?key=`, `?sig=`); the scheme, host, port, path
 * and the query's names stay, so that the destination can still be told apart. The text is kept as given
 * otherwise (nothing is normalised); a text that is no URL, a module's path or a bus name, comes back as it is,
 * bar a query or a fragment.
 */
export function redactedUrl(text: string): string {
  const scheme = SCHEME.exec(text)?.[0].length ?? 0;
  const end = scheme > 0 ? userinfoEnd(text, scheme) : 0;
  const rest = text.slice(end);
  const hash = rest.indexOf('#');
  const beforeHash = hash < 0 ? rest : rest.slice(0, hash);
  const question = beforeHash.indexOf('?');
  let shown = end > 0 ? `${text.slice(0, scheme)}${HIDDEN}@` : '';
  shown +=
    question < 0
      ? beforeHash
      : `${beforeHash.slice(0, question + 1)}${hiddenQuery(beforeHash.slice(question + 1))}`;
  if (hash >= 0) shown += hash === rest.length - 1 ? '#' : `#${HIDDEN}`;
  return shown;
}
