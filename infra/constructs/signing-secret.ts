import { RemovalPolicy } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/**
 * The signing secret: `{"url_token":"…","sori":{"current":"…","previous":"…"}}`. Created with a random URL
 * token only; `npm run set-secret` puts SORI's secret_key in, moving the old one to `previous` so deliveries
 * signed before the rotation still verify.
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
