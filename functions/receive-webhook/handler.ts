import { readReceiveEnvironment } from '../../lib/config';
import { providerNames } from '../../lib/providers';
import { registerCustomProviders } from '../../lib/providers/declarative';
import { secretsManagerReadSecret, sqsSendMessage } from '../../lib/receive/services';
import { composeReceiveHandler, RECEIVE_SECRET_TUNING, RECEIVE_SQS_TUNING } from './compose';

// Once per container: a missing variable fails the cold start loudly. The configured providers first, so that
// the list of providers served (`PROVIDERS`) may name them.
registerCustomProviders(process.env.CUSTOM_PROVIDERS);
const { config, logLevel, metricsFlushMs } = readReceiveEnvironment(process.env, providerNames());
// SQS and Secrets Manager through the function's own signed client (lib/aws): the one call each that it makes,
// with the role's credentials Lambda puts in the environment, for a fraction of the SDK's code to load.
const region = process.env.AWS_REGION ?? 'us-east-1';

export const handler = composeReceiveHandler(config, {
  sendMessage: sqsSendMessage(region, RECEIVE_SQS_TUNING),
  readSecret: secretsManagerReadSecret(region, RECEIVE_SECRET_TUNING),
  logLevel,
  metricsFlushMs,
});
