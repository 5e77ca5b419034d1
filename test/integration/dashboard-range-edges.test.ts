/**
 * `GET /api/dashboard` at the edge of the calendar: a day before any stored event is refused by name, and a range
 * from the first day accepted answers the period before it as calendar days. Against the local DynamoDB-API
 * server, through the same parse and read as both servers.
 */
import { describe, expect, it } from 'vitest';
import { DashboardReader, EARLIEST_DAY, parseDashboardQuery } from '../../lib/queries/dashboard';
import type { TableLayout } from '../../lib/table/records-table';
import { createTestTable, localClients } from '../support/local-aws';

const { dynamodb } = localClients();
const LAYOUT: TableLayout = { shards: 1, retentionDays: null };
const DAY = /^\d{4}-\d{2}-\d{2}$/;

describe('a range at the edge of the calendar', () => {
  it.each(['0000-01-01', '0999-12-31', '1999-12-31'])(
    'refuses from=%s, naming the first day accepted',
    (from) => {
      expect(parseDashboardQuery(new URLSearchParams({ from, to: '2026-01-01' }), '2026-12-06')).toEqual({
        ok: false,
        message: `from must be ${EARLIEST_DAY} or later`,
      });
    },
  );

  it('answers a range from the first day accepted, the period before it in calendar days', async () => {
    const parsed = parseDashboardQuery(
      new URLSearchParams({ from: EARLIEST_DAY, to: EARLIEST_DAY }),
      '2026-12-06',
    );
    if (!parsed.ok) throw new Error(parsed.message);
    const { tableName } = await createTestTable(dynamodb, LAYOUT);
    const dashboard = await new DashboardReader(dynamodb, tableName, LAYOUT).read(parsed.query);
    expect(dashboard.previous).toMatchObject({ from: '1999-12-31', to: '1999-12-31' });
    expect(dashboard.previous.from).toMatch(DAY);
  });
});
