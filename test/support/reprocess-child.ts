// `events reprocess` as a process of its own, the command module run directly (for tests that kill it): the
// providers CUSTOM_PROVIDERS configures are served, as the events tool serves them.
import { registerCustomProviders } from '../../lib/providers/declarative';
import { run } from '../../scripts/events/reprocess';

registerCustomProviders(process.env.CUSTOM_PROVIDERS);
process.exitCode = await run(process.argv.slice(2));
