import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import type { Dashboard } from '../../lib/queries/dashboard';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { soriPayload } from '../support/deliveries';
import { eventsOn } from '../support/events-cli';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const ROOT = resolve(import.meta.dirname, '../..');
const RECEIVED = '2025-10-14T12:00:00.000Z';
const DAY = ['--since', '2025-10-14', '--until', '2025-10-14'];

/** Campaign ids that name what every plain object inherits, and one with the unit separator of counter names. */
const CAMPAIGNS = ['__proto__', 'constructor', 'toString', 'a\u001fb'];
/** Platforms, devices, countries and materials of the same kind, each an impression in every campaign above. */
const VALUES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];
/**
 * Values that hold the separator of counter attribute names: read back naively they name an inherited property
 * (`ConsistentRead`, which the SDK reads from every request it builds, or a provider's `timeIsReceipt`) or an
 * event type such as `constructor`. One impression each, in a campaign of their own.
 */
const SEPARATED = [
  '__proto__\u001fConsistentRead',
  '__proto__\u001ftimeIsReceipt',
  'x\u001fconstructor',
  '\u001f',
];

function impression(
  campaign: string,
  value: string,
  i: number,
  event: 'impression' | 'click' = 'impression',
) {
  return buildQueueMessage(
    sori,
    Buffer.from(
      JSON.stringify({
        ...soriPayload(event),
        activity_id: `act_hostile_${i}`,
        device_id: value,
        platform: value,
        geolocation: { viewer_country: value },
        campaign: { id: campaign, name: `name of ${campaign}` },
        material: { id: value, name: 'm' },
      }),
    ),
    RECEIVED,
  );
}

async function storeHostileValues() {
  const table = await createTestTable(dynamodb);
  let i = 0;
  const messages = [
    ...CAMPAIGNS.flatMap((campaign) => [
      ...VALUES.map((value) => impression(campaign, value, i++)),
      impression(campaign, '__proto__', i++, 'click'),
    ]),
    ...SEPARATED.map((value) => impression('cmp_separated', value, i++)),
  ];
  for (const message of messages) expect(message.kind).toBe('event');
  await storeAndFold(table.writer, table.counters, messages);
  return table;
}

const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** The dashboard server (`npm run dashboard`) on the table: node with tsx's loader, one process SIGTERM stops. */
let child: ChildProcess | undefined;
afterEach(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((done) => child?.once('exit', done));
  child.kill('SIGTERM');
  await exited;
});

async function startDashboard(tableName: string): Promise<string> {
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/dashboard.ts',
      '--endpoint',
      inject('dynamodbEndpoint'),
      '--table',
      tableName,
      '--port',
      '0',
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_REGION: 'us-east-1',
      },
    },
  );
  return new Promise<string>((found, failed) => {
    let seen = '';
    child?.stderr?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(seen);
      if (match?.[1]) found(match[1]);
    });
    child?.on('exit', (code) => failed(new Error(`dashboard exited with ${code}: ${seen}`)));
  });
}

describe('values that look like structure, on every read path', () => {
  it('are counted as data by events stats, across campaigns and for one campaign', async () => {
    const { tableName } = await storeHostileValues();
    const across = await eventsOn(tableName, ['stats', ...DAY, '--json']);
    expect(across.stderr).toBe('');
    expect(across.code).toBe(0);
    const rows = jsonLines(across.stdout);
    expect(rows.map((row) => row.campaign_id).sort()).toEqual([...CAMPAIGNS, 'cmp_separated'].sort());
    for (const campaign of CAMPAIGNS) {
      expect(rows.find((row) => row.campaign_id === campaign)).toEqual({
        provider: 'sori',
        campaign_id: campaign,
        since: '2025-10-14',
        until: '2025-10-14',
        impressions: VALUES.length,
        clicks: 1,
        unique_devices: VALUES.length,
        unique_devices_exact: true,
        ctr: Number((1 / VALUES.length).toFixed(4)),
      });
    }
    expect(rows.find((row) => row.campaign_id === 'cmp_separated')).toMatchObject({
      impressions: SEPARATED.length,
      clicks: 0,
      unique_devices: SEPARATED.length,
    });
    for (const campaign of CAMPAIGNS) {
      const one = await eventsOn(tableName, ['stats', '--campaign', campaign, '--json']);
      expect(one.code, campaign).toBe(0);
      expect(jsonLines(one.stdout), campaign).toEqual([
        expect.objectContaining({
          campaign_id: campaign,
          day: '2025-10-14',
          impressions: VALUES.length,
          clicks: 1,
        }),
      ]);
    }
    const table = await eventsOn(tableName, ['stats', ...DAY]);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`(${CAMPAIGNS.length + 1} rows)`);
  });

  it('are found as data by events query and export: by campaign, by device, by type, and day by day', async () => {
    const { tableName } = await storeHostileValues();
    for (const campaign of CAMPAIGNS) {
      const byCampaign = await eventsOn(tableName, ['query', '--campaign', campaign, '--json']);
      expect(byCampaign.code, campaign).toBe(0);
      const events = jsonLines(byCampaign.stdout);
      expect(events, campaign).toHaveLength(VALUES.length + 1);
      expect(new Set(events.map((event) => event.campaign_id)), campaign).toEqual(new Set([campaign]));
    }
    for (const device of [...VALUES, ...SEPARATED]) {
      const byDevice = await eventsOn(tableName, ['query', '--device', device, ...DAY, '--json']);
      expect(byDevice.code, JSON.stringify(device)).toBe(0);
      const events = jsonLines(byDevice.stdout);
      const expected = SEPARATED.includes(device) ? 1 : CAMPAIGNS.length * (device === '__proto__' ? 2 : 1);
      expect(events, JSON.stringify(device)).toHaveLength(expected);
      for (const event of events) {
        expect(event.device_id).toBe(device);
        expect(event.platform).toBe(device);
        expect((event.geolocation as { viewer_country?: string }).viewer_country).toBe(device);
      }
    }
    // By type: read through the day's counter items, whose counts are keyed by event type.
    for (const type of ['campaign.click', 'constructor', 'toString', '__proto__']) {
      const byType = await eventsOn(tableName, ['query', '--type', type, ...DAY, '--json']);
      expect(byType.code, type).toBe(0);
      expect(jsonLines(byType.stdout), type).toHaveLength(type === 'campaign.click' ? CAMPAIGNS.length : 0);
    }
    const everything = await eventsOn(tableName, ['query', ...DAY, '--limit', '1000']);
    expect(everything.code).toBe(0);
    expect(everything.stdout).toContain(
      `(${CAMPAIGNS.length * (VALUES.length + 1) + SEPARATED.length} rows)`,
    );
    const exported = await eventsOn(tableName, ['export', '--format', 'jsonl', '--campaign', '__proto__']);
    expect(exported.code).toBe(0);
    expect(jsonLines(exported.stdout)).toHaveLength(VALUES.length + 1);
  });

  it('are counted as data by the dashboard API: campaigns, totals, hours and breakdowns exact, every breakdown row a key and two counts (material rows also their name)', async () => {
    const { tableName } = await storeHostileValues();
    const url = await startDashboard(tableName);
    // Asked twice: a value that changed what every object inherits would break the second answer, if not the first.
    for (const attempt of [1, 2]) {
      const response = await fetch(`${url}api/dashboard?day=2025-10-14`);
      expect(response.status, `answer ${attempt}`).toBe(200);
      const dashboard = (await response.json()) as Dashboard;
      expect(dashboard.campaigns.map((c) => c.campaign_id).sort()).toEqual(
        [...CAMPAIGNS, 'cmp_separated'].sort(),
      );
      for (const campaign of CAMPAIGNS) {
        expect(dashboard.campaigns.find((c) => c.campaign_id === campaign)).toMatchObject({
          provider: 'sori',
          impressions: VALUES.length,
          clicks: 1,
          unique_devices: VALUES.length,
        });
      }
      const impressions = CAMPAIGNS.length * VALUES.length + SEPARATED.length;
      const clicks = CAMPAIGNS.length;
      // Devices counted once across campaigns: each value is one device, seen in every campaign.
      const devices = new Set([...VALUES, ...SEPARATED]).size;
      expect(dashboard.totals).toEqual({ impressions, clicks, unique_devices: devices });
      expect(dashboard.hourly[5]).toEqual({ hour: 5, impressions, clicks });
      expect(
        dashboard.hourly.filter((slot) => slot.hour !== 5).every((s) => !s.impressions && !s.clicks),
      ).toBe(true);
      for (const breakdown of ['platform', 'country', 'material'] as const) {
        const rows = dashboard.breakdowns[breakdown];
        for (const row of rows) {
          expect(Object.keys(row).sort(), breakdown).toEqual(
            breakdown === 'material'
              ? ['clicks', 'impressions', 'key', 'name']
              : ['clicks', 'impressions', 'key'],
          );
          expect(Number.isSafeInteger(row.impressions) && row.impressions >= 0, breakdown).toBe(true);
          expect(Number.isSafeInteger(row.clicks) && row.clicks >= 0, breakdown).toBe(true);
        }
        for (const value of VALUES) {
          expect(
            rows.find((row) => row.key === value),
            `${breakdown} ${value}`,
          ).toEqual({
            key: value,
            impressions: CAMPAIGNS.length,
            clicks: value === '__proto__' ? CAMPAIGNS.length : 0,
            ...(breakdown === 'material' ? { name: 'm' } : {}),
          });
        }
        // Breakdowns never count more than was stored.
        expect(rows.reduce((sum, row) => sum + row.impressions, 0)).toBeLessThanOrEqual(impressions);
        expect(rows.reduce((sum, row) => sum + row.clicks, 0)).toBeLessThanOrEqual(clicks);
      }
      expect(dashboard.latest).toHaveLength(20);
    }
  });
});
