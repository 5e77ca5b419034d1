/**
 * Characters a terminal acts on rather than shows: C0 controls (ESC starts colour, cursor and title sequences;
 * CR and LF rewrite or add lines), DEL, C1 controls (U+009B is a one-character CSI), the line and paragraph
 * separators, and the bidirectional marks, embeddings, overrides and isolates that reorder what follows them.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const ACTED_ON = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * A value as a terminal should print it in human-readable output: each character a terminal would act on
 * written as its `\uXXXX` escape, so that a sender's device id or a stored reason shows as text and cannot
 * colour, move, hide or reorder what the tool prints. JSON output is left exact; this is for tables and
 * messages only.
 */
export const forTerminal = (text: string): string =>
  text.replace(ACTED_ON, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
