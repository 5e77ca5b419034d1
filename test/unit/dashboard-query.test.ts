/**
 * `parseDashboardQuery`, the one reading of `GET /api/dashboard`'s query that the local server and the deployed
 * function share: its defaults, what it takes, and the 400 message of each rule it enforces.
 */
import { describe, expect, it } from 'vitest';
import { MAX_TEXT_FIELD } from '../../lib/events/event-record';
import { type DashboardQuery, parseDashboardQuery } from '../../lib/queries/dashboard';
import { MAX_RANGE_DAYS } from '../../lib/table/reach';

const TODAY = '2025-10-15';
const parse = (search: string, today = TODAY) => parseDashboardQuery(new URLSearchParams(search), today);
const query = (fields: Partial<DashboardQuery>): { ok: true; query: DashboardQuery } => ({
  ok: true,
  query: {
    from: TODAY,
    to: TODAY,
    tz: 'UTC',
    provider: null,
    campaign: null,
    breakdown: null,
    value: null,
    ...fields,
  },
});
const refused = (message: string) => ({ ok: false, message });

describe('the dashboard query', () => {
  it('reads today, UTC, unfiltered, when nothing is asked', () => {
    expect(parse('')).toEqual(query({}));
  });

  it('reads day as the one-day range from day to day', () => {
    expect(parse('day=2025-10-01')).toEqual(query({ from: '2025-10-01', to: '2025-10-01' }));
  });

  it('ends the range today when only from is given, and starts it at to when only to is given', () => {
    expect(parse('from=2025-10-01')).toEqual(query({ from: '2025-10-01', to: TODAY }));
    expect(parse('to=2025-10-01')).toEqual(query({ from: '2025-10-01', to: '2025-10-01' }));
  });

  it(`takes a range of exactly ${MAX_RANGE_DAYS} days and refuses one of ${MAX_RANGE_DAYS + 1}`, () => {
    expect(parse('from=2025-07-15&to=2025-10-14')).toEqual(query({ from: '2025-07-15', to: '2025-10-14' }));
    expect(parse('from=2025-07-14&to=2025-10-14')).toEqual(
      refused('from and to span at most 92 days: 2025-07-14 to 2025-10-14 is 93 days'),
    );
    // A range across a leap day counts it: 31 + 31 + 29 + 1 days.
    expect(parse('from=2023-12-01&to=2024-03-01')).toEqual(query({ from: '2023-12-01', to: '2024-03-01' }));
    expect(parse('from=2023-11-30&to=2024-03-01')).toEqual(
      refused('from and to span at most 92 days: 2023-11-30 to 2024-03-01 is 93 days'),
    );
  });

  it('refuses a day, from or to that is not a calendar day, naming the parameter', () => {
    for (const bad of ['2025-02-30', '2025-1-01', 'yesterday', '', '2025-10-14T00:00:00Z', ' 2025-10-14']) {
      for (const name of ['day', 'from', 'to']) {
        expect(parse(`${name}=${encodeURIComponent(bad)}`), `${name}=${bad}`).toEqual(
          refused(`${name} must be a calendar day, YYYY-MM-DD`),
        );
      }
    }
  });

  it('refuses a parameter given twice as API Gateway hands it over, its values joined by a comma', () => {
    expect(parse('day=2025-10-14&day=2025-10-15')).toEqual(refused('day must be a calendar day, YYYY-MM-DD'));
    expect(parseDashboardQuery({ day: '2025-10-14,2025-10-15' }, TODAY)).toEqual(
      refused('day must be a calendar day, YYYY-MM-DD'),
    );
  });

  it('refuses day together with from or to', () => {
    for (const search of ['day=2025-10-14&from=2025-10-13', 'day=2025-10-14&to=2025-10-14']) {
      expect(parse(search), search).toEqual(refused('day is one day: give either day, or from and to'));
    }
  });

  it('refuses from after to, saying when to is today by default', () => {
    expect(parse('from=2025-10-15&to=2025-10-14')).toEqual(
      refused('from must not be after to: 2025-10-15 is after 2025-10-14'),
    );
    expect(parse('from=2025-10-16')).toEqual(
      refused('from must not be after to: 2025-10-16 is after 2025-10-15 (today, as to was not given)'),
    );
  });

  it('takes an IANA time zone and echoes it as given; refuses an unknown zone, an offset and an empty one', () => {
    expect(parse('tz=Europe/Berlin')).toEqual(query({ tz: 'Europe/Berlin' }));
    expect(parse('tz=America/Argentina/Buenos_Aires')).toEqual(
      query({ tz: 'America/Argentina/Buenos_Aires' }),
    );
    for (const bad of ['Mars/Olympus_Mons', '+02:00', '', 'Europe/Berlin,UTC']) {
      expect(parse(`tz=${encodeURIComponent(bad)}`), bad).toEqual(
        refused('tz must be an IANA time zone name, such as UTC or Europe/Berlin'),
      );
    }
  });

  it('takes a provider and a campaign together, and refuses either alone, an unknown provider or an empty or over-long campaign', () => {
    expect(parse('provider=sori&campaign=cmp_1234')).toEqual(
      query({ provider: 'sori', campaign: 'cmp_1234' }),
    );
    // Campaign ids are the senders': any text is one.
    expect(parse(`provider=optimizely&campaign=${encodeURIComponent('__proto__ & co')}`)).toEqual(
      query({ provider: 'optimizely', campaign: '__proto__ & co' }),
    );
    expect(parse('provider=sori')).toEqual(refused('provider and campaign go together: campaign is missing'));
    expect(parse('campaign=cmp_1234')).toEqual(
      refused('provider and campaign go together: provider is missing'),
    );
    for (const provider of ['nobody', 'toString', '']) {
      expect(parse(`provider=${provider}&campaign=cmp_1234`), provider).toEqual(
        refused('provider must be one of sori, symphony, adreform, optimizely'),
      );
    }
    expect(parse('provider=sori&campaign=')).toEqual(refused('campaign must not be empty'));
    expect(parse(`provider=sori&campaign=${'c'.repeat(MAX_TEXT_FIELD)}`)).toMatchObject({ ok: true });
    expect(parse(`provider=sori&campaign=${'c'.repeat(MAX_TEXT_FIELD + 1)}`)).toEqual(
      refused('campaign must be at most 1024 characters (campaign ids are kept to that length)'),
    );
  });

  it('takes a breakdown and a value together, alone or with a campaign, and refuses either alone, another breakdown or an empty value', () => {
    for (const breakdown of ['platform', 'country', 'material'] as const) {
      expect(parse(`breakdown=${breakdown}&value=x`)).toEqual(query({ breakdown, value: 'x' }));
    }
    expect(parse('provider=sori&campaign=c&breakdown=country&value=United%20States')).toEqual(
      query({ provider: 'sori', campaign: 'c', breakdown: 'country', value: 'United States' }),
    );
    expect(parse('breakdown=platform')).toEqual(refused('breakdown and value go together: value is missing'));
    expect(parse('value=iOS')).toEqual(refused('breakdown and value go together: breakdown is missing'));
    for (const breakdown of ['hour', 'device', 'constructor', '']) {
      expect(parse(`breakdown=${breakdown}&value=x`), breakdown).toEqual(
        refused('breakdown must be one of platform, country, material, app'),
      );
    }
    expect(parse('breakdown=platform&value=')).toEqual(refused('value must not be empty'));
  });

  it('takes an app as a breakdown value: default, (other) or a name an app can have, and refuses any other with what an app name is', () => {
    for (const value of ['default', 'agency-a', '0', 'a'.repeat(32), '(other)']) {
      expect(parse(`breakdown=app&value=${encodeURIComponent(value)}`), value).toEqual(
        query({ breakdown: 'app', value }),
      );
    }
    expect(parse('provider=sori&campaign=c&breakdown=app&value=agency-b')).toEqual(
      query({ provider: 'sori', campaign: 'c', breakdown: 'app', value: 'agency-b' }),
    );
    for (const value of [
      'Agency',
      'agency_a',
      'a'.repeat(33),
      '-a',
      'agency a',
      'agency-a,agency-b',
      '__proto__',
    ]) {
      expect(parse(`breakdown=app&value=${encodeURIComponent(value)}`), value).toEqual(
        refused(
          'value must be an app name for breakdown app: default, (other), or 1 to 32 lower-case letters, digits or hyphens',
        ),
      );
    }
    expect(parse('breakdown=app&value=')).toEqual(refused('value must not be empty'));
  });

  it('reads API Gateway’s parameters the same as a query string, and ignores parameters it does not know', () => {
    const search =
      'from=2025-10-01&to=2025-10-14&tz=Asia/Tokyo&provider=sori&campaign=c&breakdown=material&value=m';
    const gateway = Object.fromEntries(new URLSearchParams(search));
    expect(parseDashboardQuery(gateway, TODAY)).toEqual(parse(search));
    expect(parse(`${search}&_=1700000000000`)).toEqual(parse(search));
    // What every object inherits is not a parameter.
    expect(parseDashboardQuery({}, TODAY)).toEqual(query({}));
  });
});
