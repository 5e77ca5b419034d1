/**
 * What CloudWatch Logs makes of embedded-metric-format lines: for each directive of a line, each of its
 * dimension sets and each metric it names, one datapoint whose dimensions are the line's members of those names
 * and whose value is the line's member of the metric's name. Lines without `_aws` are not metrics.
 */
export interface ExtractedDatapoint {
  namespace: string;
  name: string;
  dimensions: Record<string, string>;
  value: number;
  /** Milliseconds since the epoch, the line's `_aws.Timestamp`. */
  timestamp: number;
}

interface EmfLine {
  _aws?: {
    Timestamp: number;
    CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[];
  };
  [member: string]: unknown;
}

export function extractMetrics(output: string): ExtractedDatapoint[] {
  const points: ExtractedDatapoint[] = [];
  for (const text of output.split('\n')) {
    if (!text.includes('"_aws"')) continue;
    const line = JSON.parse(text) as EmfLine;
    if (!line._aws) continue;
    for (const directive of line._aws.CloudWatchMetrics) {
      for (const set of directive.Dimensions) {
        const dimensions = Object.fromEntries(set.map((name) => [name, line[name]]));
        // A dimension whose member is missing or not a string makes CloudWatch drop the directive.
        if (!Object.values(dimensions).every((value) => typeof value === 'string'))
          throw new Error(`a dimension of ${JSON.stringify(set)} has no string value in ${text}`);
        for (const { Name } of directive.Metrics) {
          const value = line[Name];
          if (typeof value !== 'number') throw new Error(`metric ${Name} has no number in ${text}`);
          points.push({
            namespace: directive.Namespace,
            name: Name,
            dimensions: dimensions as Record<string, string>,
            value,
            timestamp: line._aws.Timestamp,
          });
        }
      }
    }
  }
  return points;
}

/** The sum of the datapoints of one metric with exactly these dimensions. */
export function sumOf(
  points: ExtractedDatapoint[],
  name: string,
  dimensions: Record<string, string>,
): number {
  const key = JSON.stringify(Object.entries(dimensions).sort());
  return points
    .filter((point) => point.name === name && JSON.stringify(Object.entries(point.dimensions).sort()) === key)
    .reduce((total, point) => total + point.value, 0);
}
