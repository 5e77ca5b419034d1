export { CampaignInboxStack } from './campaign-inbox-stack';
export { DEFAULT_CONFIG, type InboxConfig, readConfig } from './config';
export { CampaignInbox, type CampaignInboxProps } from './constructs/campaign-inbox';
