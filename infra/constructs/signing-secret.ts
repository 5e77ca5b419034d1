import { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The signing secret: `{"url_token":"…","sori":{"current":"…","previous":"…"},"symphony":{"url_token":"…"}}`, and
 * beside a provider's own keys those of each of its other apps (`"sori":{…,"apps":{"agency-a":{"current":"…",
 * "previous":"…"}}}`, set with `npm run set-secret -- --app agency-a`), which verify deliveries sent to
 * `/webhooks/sori/agency-a`.
 * Created holding one random value at `url_token`, which is never a token itself: each URL-token provider's
 * token is derived from it (`deriveUrlToken` in lib/signature/signing-secrets.ts), so every provider has its own
 * and one provider's URL opens no other's route. `npm run set-secret` puts SORI's secret_key in (moving the old
 * one to `previous` so deliveries signed before the rotation still verify), prints the URLs, and gives a
 * provider a token of its own.
 *
 * The generation template must stay as it is: CloudFormation regenerates the whole value of a secret whose
 * `GenerateSecretString` changes, which would wipe every key set since.
 */
export class SigningSecret extends Construct {
  readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      description: 'campaign-inbox webhook signing secrets (set with npm run set-secret)',
      generateSecretString: {
        secretStringTemplate: '{}',
        generateStringKey: 'url_token',
        excludePunctuation: true,
        passwordLength: 40,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}
