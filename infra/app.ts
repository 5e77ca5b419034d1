import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CampaignInboxStack } from './campaign-inbox-stack';
import { readConfig } from './config';

const app = new App();
const config = readConfig(app.node);
new CampaignInboxStack(app, config.stackName, {
  config,
  description: 'campaign-inbox: a self-hosted receiver for campaign webhooks',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// Synthesis fails on any unacknowledged AwsSolutions finding.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
