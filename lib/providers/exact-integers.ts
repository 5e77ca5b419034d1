// JSON.parse turns an integer literal above 2^53 into the nearest double (9007199254740993 reads as
// 9007199254740992), so two ids that differ only there would become one. Node 20's JSON.parse gives a reviver no
// access to the source text, so the digits are read from the text itself.

const WHITESPACE = /[^ \t\n\r]/g;
/** Where a string, an object or an array starts or ends: what a nested value is skipped by. */
const STRUCTURE = /["[\]{}]/g;
/** Where a number or a literal (`true`, `false`, `null`) ends. */
const SCALAR_END = /[,\]} \t\n\r]/g;
const INTEGER_LITERAL = /^-?\d+$/;

/** The index of the first character at or after `at` that is not JSON whitespace. */
function skipWhitespace(text: string, at: number): number {
  WHITESPACE.lastIndex = at;
  return WHITESPACE.exec(text) ? WHITESPACE.lastIndex - 1 : text.length;
}

/** The index just past the string that starts at `at` (a `"`): its closing quote is the first not escaped. */
function stringEnd(text: string, at: number): number {
  for (let from = at + 1; ; ) {
    const quote = text.indexOf('"', from);
    if (quote === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** The index just past the value that starts at `at`. Iterative: nesting depth costs no stack. */
function valueEnd(text: string, at: number): number {
  const first = text[at];
  if (first === '"') return stringEnd(text, at);
  if (first !== '{' && first !== '[') {
    SCALAR_END.lastIndex = at;
    return SCALAR_END.exec(text) ? SCALAR_END.lastIndex - 1 : text.length;
  }
  let depth = 0;
  for (let from = at; ; ) {
    STRUCTURE.lastIndex = from;
    const match = STRUCTURE.exec(text);
    if (!match) return text.length;
    const found = match.index;
    if (text[found] === '"') {
      from = stringEnd(text, found);
      continue;
    }
    depth += text[found] === '{' || text[found] === '[' ? 1 : -1;
    from = found + 1;
    if (depth === 0) return from;
  }
}

/**
 * The integer literals of some members of a JSON object's top level, as they are written in its text. A member
 * that occurs more than once counts by its last occurrence, the one JSON.parse keeps; a name written with escapes
 * (`"mailing\u0049d"`) is the name it stands for. Members of nested objects and text inside strings are never
 * taken for them.
 *
 * @param text JSON text that JSON.parse accepted, without a byte-order mark
 * @param names the members wanted
 * @returns each wanted member whose value is an integer literal (`-?digits`, no fraction or exponent), with that
 *   literal; nothing for text that is not an object
 */
export function topLevelIntegerLiterals(text: string, names: ReadonlySet<string>): Map<string, string> {
  const found = new Map<string, string>();
  // A name escaped in full takes six characters for each of its own, plus its quotes.
  const longestName = Math.max(0, ...[...names].map((name) => name.length * 6 + 2));
  let at = skipWhitespace(text, 0);
  if (text[at] !== '{') return found;
  at = skipWhitespace(text, at + 1);
  while (text[at] === '"') {
    const nameEnd = stringEnd(text, at);
    const quoted = text.slice(at, nameEnd);
    const name = quoted.length <= longestName ? (JSON.parse(quoted) as string) : undefined;
    const valueAt = skipWhitespace(text, skipWhitespace(text, nameEnd) + 1);
    const end = valueEnd(text, valueAt);
    if (name !== undefined && names.has(name)) {
      const literal = text.slice(valueAt, end);
      if (INTEGER_LITERAL.test(literal)) found.set(name, literal);
      else found.delete(name);
    }
    at = skipWhitespace(text, end);
    if (text[at] !== ',') break;
    at = skipWhitespace(text, at + 1);
  }
  return found;
}
