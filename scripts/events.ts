// `npm run events`, `tsx scripts/events.ts` and `campaign-inbox events`: the tool, one module per command in
// scripts/events/.

import { isEntry, runAsEntry } from './entry';
import { run } from './events/index';

export type { EventsIo } from './events/index';
export { run };

if (isEntry(import.meta.url)) runAsEntry(run);
