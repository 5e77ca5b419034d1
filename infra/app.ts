import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CampaignInboxStack } from './campaign-inbox-stack';
import { readConfig } from './config';

const app = new App();
const config = readConfig(app.node);
const list = (key: string) =>
  String(app.node.tryGetContext(key) ?? '')
    .split(',')
    .map((value) => value.trim())
    .filter(Boolean);
const onEventModule = app.node.tryGetContext('onEventModule') as string | undefined;
new CampaignInboxStack(app, config.stackName, {
  config,
  onEvent: onEventModule
    ? { module: onEventModule, events: list('onEventTypes'), providers: list('onEventProviders') }
    : undefined,
  description: 'campaign-inbox: a self-hosted receiver for campaign webhooks',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// Synthesis fails on any unacknowledged AwsSolutions finding.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
