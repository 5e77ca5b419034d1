/**
 * Lambda's event filtering for an event source mapping, for the rules a template here uses: a filter's pattern
 * is a JSON object whose keys must all match the record; an object value matches the record's object at that key,
 * an array value is a list of exact values one of which the record's value must equal. Filters of a mapping are
 * alternatives: a record passes when one of them matches. Any other rule (`prefix`, `exists`, `anything-but`,
 * numeric ranges) is refused rather than guessed at.
 */

type Pattern = { [key: string]: Pattern | unknown[] };

function matches(pattern: Pattern, value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return Object.entries(pattern).every(([key, rule]) => {
    if (Array.isArray(rule)) {
      for (const option of rule) {
        if (typeof option === 'object' && option !== null)
          throw new Error(`a filter rule not read here: ${JSON.stringify(option)}`);
      }
      return rule.includes(record[key] as never);
    }
    if (typeof rule !== 'object' || rule === null) throw new Error(`a filter value not read here: ${rule}`);
    return matches(rule as Pattern, record[key]);
  });
}

/** @returns whether `record` passes the mapping's `FilterCriteria` (every record passes a mapping without one). */
export function passesFilters(filters: { Pattern: string }[] | undefined, record: unknown): boolean {
  if (!filters || filters.length === 0) return true;
  return filters.some((filter) => matches(JSON.parse(filter.Pattern) as Pattern, record));
}
