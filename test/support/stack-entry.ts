import { createLogger } from '../../lib/log';
import { startLocalStack } from '../../local/local-stack';

/**
 * The local stack as a process of its own, like `npm start`, with a 1 s visibility timeout and 2 receives before
 * the DLQ, so a test sees a message dead-lettered in seconds rather than the default 25. Stops on SIGTERM.
 */
const stack = await startLocalStack({
  port: 0,
  dataDir: process.env.DATA_DIR,
  secret: process.env.SORI_SECRET_KEY ?? 'sk_stack_entry',
  visibilityTimeoutSeconds: 1,
  maxReceiveCount: 2,
  logger: createLogger('stack-entry', 'error'),
});
process.on('SIGTERM', () => {
  stack.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
