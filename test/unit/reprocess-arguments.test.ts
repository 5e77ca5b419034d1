import { describe, expect, it } from 'vitest';
import { parseReprocess } from '../../scripts/events/reprocess';

describe("reprocess's own flag, for the events tool's entry", () => {
  it('reads reprocess --normalizer <label> (or =<label>) as the shared flags read the rest, and nothing else', () => {
    for (const argv of [
      ['reprocess', '--normalizer', 'sori@1', '--json', '--dry-run'],
      ['reprocess', '--json', '--normalizer=sori@1', '--dry-run'],
    ]) {
      const parsed = parseReprocess(argv);
      expect(parsed?.positionals).toEqual(['reprocess']);
      expect(parsed?.values).toMatchObject({ json: true, 'dry-run': true });
    }
    expect(parseReprocess(['query', '--normalizer', 'sori@1'])).toBeUndefined();
    expect(parseReprocess(['reprocess', '--normalizer'])).toBeUndefined();
    expect(parseReprocess(['reprocess', '--normalizer', 'sori@1', '--campain', 'x'])).toBeUndefined();
  });
});
