/**
 * A user's reaction module, as `-c onEventModule=…` names one: the bundler aliases it into the reaction
 * function. It appends each event it is handed, as one JSON line, to the file `REACTION_OUT` names (a setting of
 * this module's own, given to the bundle's process by the test), so the test sees exactly what reached it.
 */
import { appendFileSync } from 'node:fs';

export default function onEvent(event: { id: string }): void {
  const out = process.env.REACTION_OUT;
  if (!out) throw new Error('REACTION_OUT is not set');
  appendFileSync(out, `${JSON.stringify(event)}\n`);
}
