import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A query shipped with the lake: its name (as Athena lists it), its file in `queries/`, what it answers, and its
 * kind: `range` queries read the table over a range of days (and run in DuckDB alike), `maintenance` ones are
 * Athena's own statements on an Iceberg table.
 */
export interface LakeQuery {
  name: string;
  file: string;
  description: string;
  kind: 'range' | 'maintenance';
}

/**
 * The queries the lake ships, as Athena named queries. Each reads the lake table by its name (`events`); a range
 * query takes the range's first and last UTC day as its two parameters (`?`, bound in order as `'YYYY-MM-DD'`
 * literals), the same text in Athena and in the local check that runs it over the local sink's files.
 */
export const LAKE_QUERIES: readonly LakeQuery[] = [
  {
    name: 'campaign-stats',
    file: 'campaign-stats.sql',
    description: 'Per campaign over a range of days: impressions, clicks, CTR, unique devices (events stats)',
    kind: 'range',
  },
  {
    name: 'platform-breakdown',
    file: 'platform-breakdown.sql',
    description: 'Impressions and clicks per platform over a range of days (the dashboard breakdown)',
    kind: 'range',
  },
  {
    name: 'country-breakdown',
    file: 'country-breakdown.sql',
    description: 'Impressions and clicks per country over a range of days (the dashboard breakdown)',
    kind: 'range',
  },
  {
    name: 'material-breakdown',
    file: 'material-breakdown.sql',
    description: 'Impressions and clicks per material, with its newest name, over a range of days',
    kind: 'range',
  },
  {
    name: 'app-breakdown',
    file: 'app-breakdown.sql',
    description: "Impressions and clicks per provider's app over a range of days (the dashboard breakdown)",
    kind: 'range',
  },
  {
    name: 'optimize',
    file: 'optimize.sql',
    description: 'Maintenance: rewrites the small files Firehose commits into larger ones',
    kind: 'maintenance',
  },
  {
    name: 'vacuum',
    file: 'vacuum.sql',
    description:
      'Maintenance: expires old snapshots and removes the files none names any more (after optimize)',
    kind: 'maintenance',
  },
];

/**
 * Where the query files are: beside this module in the sources, under `lake/queries` beside the bundle that
 * inlines it in the built package.
 */
function queriesDir(): string {
  const candidates = [join(import.meta.dirname, 'queries'), join(import.meta.dirname, 'lake', 'queries')];
  return candidates.find((dir) => existsSync(dir)) ?? (candidates[0] as string);
}

/**
 * @returns the SQL text of a shipped query, as Athena runs it.
 * @throws the file system's error when the file is missing.
 */
export function lakeQueryText(query: LakeQuery): string {
  return readFileSync(join(queriesDir(), query.file), 'utf8');
}
