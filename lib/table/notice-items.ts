import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { callOptions } from './deadline';
import { RECORDS_TABLE, TTL_ATTRIBUTE } from './records-table';
import { type Item, putItemIfAbsent, queryItems } from './table-io';

/**
 * Signal notices in the records table: one item per fraud or quality signal raised (or an orphan click taken
 * back), written once by the fold, for the destinations to publish.
 *
 * | item                         | partition key    | sort key                         |
 * |------------------------------|------------------|----------------------------------|
 * | a signal notice of one day   | `SIGNAL#<day>`   | `<signal>#<state>#<hash>`        |
 *
 * `<day>` is the day of the campaign-day or provider-day the signal is raised on, and `<hash>` is the notice's
 * identity (see `noticeId`): the same signal raised again, by a fold taken over or by a later fold, has the
 * same key, so the conditional put that writes it writes it once. The item carries no index key: no index
 * write, and no query of the indexes ever meets one.
 */
export const NOTICE_PARTITION_PREFIX = 'SIGNAL#';
/** The `kind` of a notice item (events are `event`, counters `stats`, …): what the destinations' filters match. */
export const NOTICE_KIND = 'signal';
/**
 * Days a notice item is kept (TTL). Its key is what keeps a signal from being published twice: a fold taken
 * over finds it within minutes, and a campaign-day's CTR that dips and crosses its threshold again while the
 * day still takes events (a day or two of late deliveries) finds it too. A week covers both with room; a stored
 * notice is a few hundred bytes.
 */
export const NOTICE_TTL_DAYS = 7;
/**
 * The attribute a local destination sets on a notice it has published (`published_<kind>`): the deployed stack
 * publishes from the table's stream and never writes it.
 */
export const publishedAttribute = (destination: string) => `published_${destination}`;

/** A notice's fields, each stored as a string attribute of its own name (`NOTICE_FIELDS`). */
export const NOTICE_ATTRIBUTES = [
  'notice_id',
  'origin',
  'signal',
  'state',
  'provider',
  'day',
  'campaign_id',
  'subject',
  'device_id',
  'activity_id',
  'at',
  'impressions',
  'clicks',
  'threshold_name',
  'threshold',
  'raised_at',
] as const;

/** One of {@link NOTICE_ATTRIBUTES}. */
export type NoticeAttribute = (typeof NOTICE_ATTRIBUTES)[number];

/**
 * A notice as the table keeps it: every field a string. What each field means, and the narrower types of some,
 * belong to the signals that raise notices; the table stores and reads any such document.
 */
export type NoticeDocument = { readonly [field in NoticeAttribute]: string };

/** The partition holding the notices of the signals raised on one day. */
export const noticePartitionKey = (day: string) => `${NOTICE_PARTITION_PREFIX}${day}`;

/** @returns the notice's sort key: its signal, its state, then the hash its id ends with. */
export const noticeSortKey = (notice: Pick<NoticeDocument, 'signal' | 'state' | 'notice_id'>) =>
  `${notice.signal}#${notice.state}#${notice.notice_id.slice(notice.notice_id.indexOf('_') + 1)}`;

/** The item that stores a notice: its key, `kind`, every field of the notice as a string, and its TTL. */
export function noticeItem(notice: NoticeDocument): Item {
  const item: Item = {
    [RECORDS_TABLE.partitionKey]: { S: noticePartitionKey(notice.day) },
    [RECORDS_TABLE.sortKey]: { S: noticeSortKey(notice) },
    kind: { S: NOTICE_KIND },
    [TTL_ATTRIBUTE]: {
      N: String(Math.floor(Date.parse(notice.raised_at) / 1000) + NOTICE_TTL_DAYS * 86_400),
    },
  };
  for (const field of NOTICE_ATTRIBUTES) item[field] = { S: String(notice[field]) };
  return item;
}

/**
 * @returns the notice a notice item holds (a field it lacks is the empty string), as the document type its
 *   writer put there.
 */
export function fromNoticeItem<N extends NoticeDocument = NoticeDocument>(item: Item): N {
  const notice: Record<string, string> = {};
  for (const field of NOTICE_ATTRIBUTES) notice[field] = item[field]?.S ?? '';
  return notice as N;
}

/**
 * Writes a notice unless its key is there: a fold that put it before it was killed, or an earlier fold that
 * raised the same signal, wrote it already, and the condition then fails quietly.
 * @returns whether this call wrote it (an attempt whose answer was lost and that a retry found counts as
 *   written: the item found is then this very notice, `raised_at` included).
 * @throws the SDK's error for anything else (throttling, unavailability).
 */
export async function putNoticeItem(
  client: DynamoDBClient,
  tableName: string,
  notice: NoticeDocument,
): Promise<boolean> {
  const outcome = await putItemIfAbsent(
    client,
    tableName,
    noticeItem(notice),
    (found) => found?.raised_at?.S === notice.raised_at,
  );
  return outcome === 'stored';
}

/**
 * The notices of one day, read consistently, that a local destination has not published yet and that were
 * raised at `since` or later.
 */
export async function unpublishedNotices<N extends NoticeDocument = NoticeDocument>(
  client: DynamoDBClient,
  tableName: string,
  day: string,
  destination: string,
  since: string,
): Promise<N[]> {
  const items = await queryItems(client, {
    TableName: tableName,
    KeyConditionExpression: '#pk = :pk',
    FilterExpression: 'attribute_not_exists(#published) AND #raised >= :since',
    ExpressionAttributeNames: {
      '#pk': RECORDS_TABLE.partitionKey,
      '#published': publishedAttribute(destination),
      '#raised': 'raised_at',
    },
    ExpressionAttributeValues: { ':pk': { S: noticePartitionKey(day) }, ':since': { S: since } },
    ConsistentRead: true,
  });
  return items.map((item) => fromNoticeItem<N>(item));
}

/**
 * Notes on a notice item that a local destination published it (an update: the notice stays as it was; one
 * no longer there is left so).
 */
export async function markNoticePublished(
  client: DynamoDBClient,
  tableName: string,
  notice: NoticeDocument,
  destination: string,
  at: string,
): Promise<void> {
  const key: Record<string, AttributeValue> = {
    [RECORDS_TABLE.partitionKey]: { S: noticePartitionKey(notice.day) },
    [RECORDS_TABLE.sortKey]: { S: noticeSortKey(notice) },
  };
  try {
    await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: key,
        UpdateExpression: 'SET #published = :at',
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeNames: {
          '#published': publishedAttribute(destination),
          '#pk': RECORDS_TABLE.partitionKey,
        },
        ExpressionAttributeValues: { ':at': { S: at } },
      }),
      callOptions(),
    );
  } catch (error) {
    // Gone (its TTL passed): nothing left to publish again.
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
}
