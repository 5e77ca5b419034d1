import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findProvider, providerNames } from '../../lib/providers';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { stampNow } from '../../scripts/send';

// The payloads `npm run send` (and the packaged `campaign-inbox send`) posts when given no --file.
const EXAMPLES = join(import.meta.dirname, '../../examples/payloads');
const folders = readdirSync(EXAMPLES, { withFileTypes: true }).filter((entry) => entry.isDirectory());
const examples = folders.flatMap((folder) =>
  readdirSync(join(EXAMPLES, folder.name))
    .filter((name) => name.endsWith('.json'))
    .map((name) => [folder.name, name] as const),
);

describe('the example payloads send ships (examples/payloads)', () => {
  it('has a folder of examples for every built-in provider, and none for a provider that does not exist', () => {
    expect(folders.map((folder) => folder.name).sort()).toEqual([...providerNames()].sort());
    for (const folder of folders) expect(examples.some(([name]) => name === folder.name)).toBe(true);
  });

  it.each(examples)(
    '%s/%s, stamped as send stamps it, is an event its provider stores, not a quarantine',
    (folder, name) => {
      const provider = findProvider(folder);
      if (!provider) throw new Error(`no provider ${folder}`);
      const payload = JSON.parse(readFileSync(join(EXAMPLES, folder, name), 'utf8')) as Record<
        string,
        unknown
      >;
      const now = new Date();
      const body = JSON.stringify(stampNow(folder, payload, now));

      const message = buildQueueMessage(provider, Buffer.from(body), now.toISOString());

      expect(message.kind === 'quarantine' ? message.record.reason : message.kind).toBe('event');
    },
  );
});
