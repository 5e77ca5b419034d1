import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Bundled into the Lambda functions in place of `@aws-sdk/credential-provider-node` (an esbuild alias, see
 * `infra/bundling.ts`). Lambda puts the role's credentials in the environment, so the default chain never gets
 * past its first step there; the rest of it (files, SSO, STS web identity, instance metadata, with the clients
 * they embed) would only be loaded, at a quarter of the bundle. The SDK clients keep their behaviour: they read
 * `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, as the default chain's first step does.
 */
export const defaultProvider: typeof fromEnv = (init) => fromEnv(init);
