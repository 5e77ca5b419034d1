import { resolve } from 'node:path';
import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { InboxConfig } from './config';
import { CampaignInbox } from './constructs/campaign-inbox';
import { NodeFunction } from './constructs/node-function';

export interface CampaignInboxStackProps extends StackProps {
  config: InboxConfig;
  /** A module of the user's to run once for each newly stored event (`-c onEventModule=…`). */
  onEvent?: { module: string; events: string[]; providers: string[] } | undefined;
}

/** The project's own stack: the `CampaignInbox` construct and the outputs the operations scripts read. */
export class CampaignInboxStack extends Stack {
  readonly inbox: CampaignInbox;

  constructor(scope: Construct, id: string, props: CampaignInboxStackProps) {
    super(scope, id, props);
    const { stackName: _, ...config } = props.config;
    this.inbox = new CampaignInbox(this, 'Inbox', config);

    this.inbox.addOutputs();
    new CfnOutput(this, 'DashboardUrl', {
      description:
        'The CloudWatch operations dashboard (API, queue, functions, alarms); the campaign figures are at CampaignDashboardUrl',
      value: `https://${this.region}.console.aws.amazon.com/cloudwatch/home?region=${this.region}#dashboards:name=${this.inbox.monitoring.dashboard.dashboardName}`,
    });

    if (props.onEvent) {
      const reaction = new NodeFunction(this, 'OnEvent', {
        name: 'on-event',
        timeout: Duration.seconds(60),
        logRetentionDays: props.config.logRetentionDays,
        alias: { 'campaign-inbox:on-event': resolve(props.onEvent.module) },
      });
      const failures = this.inbox.onEvent(reaction.function, {
        events: props.onEvent.events,
        providers: props.onEvent.providers,
      });
      new CfnOutput(this, 'OnEventFailuresQueueUrl', { value: failures.queueUrl });
    }
  }
}
