/**
 * A reaction module (`ON_EVENT_MODULE`): rewards a device on its first click of a campaign, once, however many
 * times it clicks and however many times the same click is delivered or its reaction runs again.
 *
 *   ON_EVENT_MODULE=./examples/reward-first-click.ts ON_EVENT_TYPES=campaign.click npm start
 *
 * "First" is the first click the reaction sees for the pair, not the earliest `created_at`: reactions run
 * concurrently and in no set order.
 *
 * Reactions run at least once per stored event, so a reaction must be idempotent. Here the idempotency key is
 * the reward's own, `<provider>#<campaign>#<device>`: the reward is granted by creating the key's entry in a
 * store, and creating it succeeds once only. Its second run for the same click, or the device's next click,
 * finds the key taken and grants nothing.
 *
 * The store here is a directory (`REWARDS_DIR`, default `DATA_DIR/rewards`): one file per granted key, named by
 * its hash and created whole with its content or not at all (written to a temporary file, then hard-linked to
 * its name, which fails when the name exists), and a ledger, `rewards.jsonl`, a line per grant. Deployed, a Lambda's disk does not
 * last: give `rewardFirstClick` a store of your own with the same contract, such as a DynamoDB put with
 * `attribute_not_exists(pk)`.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';

/** The fields of a stored event this reaction reads (the record `npm run events -- query --json` prints). */
export interface ClickEvent {
  id: string;
  provider: string;
  event: string;
  campaign_id: string | null;
  device_id: string | null;
}

/** What is granted, once per key. */
export interface Reward {
  key: string;
  provider: string;
  campaign_id: string;
  device_id: string;
  /** The click that earned it. */
  record_id: string;
  granted_at: string;
}

/** A store of rewards that grants each key once. */
export interface RewardStore {
  /** @returns `true` when this call granted the reward, `false` when its key was granted before. */
  grant(reward: Reward): Promise<boolean> | boolean;
}

/** A {@link RewardStore} in a directory: one file per granted key, created with its content or not at all. */
export function fileRewardStore(dir: string): RewardStore {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return {
    grant(reward) {
      // Named by a hash of the pair: any id fits in a file name, and case-insensitive disks keep "ABC" and
      // "abc" apart; the parts are hashed as a JSON array, so "a#b" + "c" and "a" + "b#c" stay two pairs.
      const pair = JSON.stringify([reward.provider, reward.campaign_id, reward.device_id]);
      const path = join(dir, `${createHash('sha256').update(pair).digest('hex')}.json`);
      const temporary = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
      const fd = openSync(temporary, 'wx', 0o600);
      try {
        writeSync(fd, `${JSON.stringify(reward)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        linkSync(temporary, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
      } finally {
        rmSync(temporary, { force: true });
      }
      // The grant is the file; the ledger is a log of grants (a crash right here leaves a grant out of it).
      appendFileSync(join(dir, 'rewards.jsonl'), `${JSON.stringify(reward)}\n`, { mode: 0o600 });
      return true;
    },
  };
}

/**
 * Rewards `event`'s device if this is its first click of the campaign.
 * @returns the reward when this call granted it.
 */
export async function rewardFirstClick(event: ClickEvent, store: RewardStore): Promise<Reward | undefined> {
  if (event.event !== 'campaign.click' || !event.campaign_id || !event.device_id) return undefined;
  const reward: Reward = {
    key: `${event.provider}#${event.campaign_id}#${event.device_id}`,
    provider: event.provider,
    campaign_id: event.campaign_id,
    device_id: event.device_id,
    record_id: event.id,
    granted_at: new Date().toISOString(),
  };
  return (await store.grant(reward)) ? reward : undefined;
}

let store: RewardStore | undefined;

/** The module's reaction: the file store in `REWARDS_DIR`, or `DATA_DIR/rewards` (`npm start`'s data). */
export default async function onEvent(event: ClickEvent): Promise<void> {
  store ??= fileRewardStore(
    resolve(process.env.REWARDS_DIR || join(process.env.DATA_DIR || '.data', 'rewards')),
  );
  const reward = await rewardFirstClick(event, store);
  if (reward) console.log(`rewarded ${reward.device_id} for its first click of ${reward.campaign_id}`);
}
