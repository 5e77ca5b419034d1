import { describe, expect, it } from 'vitest';
import { EmfMetrics } from '../../lib/emf-metrics';
import { CountingMetrics, METRIC } from '../../lib/metrics';
import { providerNames } from '../../lib/providers';
import { extractMetrics, sumOf } from '../support/emf';

/** Metrics serving `providers`, by default the providers this build knows (as the receive function passes them). */
function emf(providers: readonly string[] = providerNames()) {
  const lines: string[] = [];
  const metrics = new EmfMetrics('CampaignInbox', 'receive-webhook', (line) => lines.push(line), providers);
  return { metrics, lines, output: () => lines.join('\n') };
}

const service = { service: 'receive-webhook' };

describe('refusals per provider in the embedded metric format', () => {
  it('writes a refusal of a served provider in the line that carries the totals, under both dimension sets', () => {
    const { metrics, lines, output } = emf();
    metrics.count(METRIC.accepted, 1, 'campaign.click');
    metrics.count(METRIC.signatureFailures, 1, undefined, 'sori');
    metrics.flush(1_000);
    expect(lines).toHaveLength(1);
    const points = extractMetrics(output());
    expect(sumOf(points, 'SignatureFailures', service)).toBe(1);
    expect(sumOf(points, 'SignatureFailures', { ...service, provider: 'sori' })).toBe(1);
    expect(sumOf(points, 'Accepted', service)).toBe(1);
    // Only refusals get the provider dimension.
    expect(points.filter((p) => 'provider' in p.dimensions).map((p) => p.name)).toEqual([
      'SignatureFailures',
    ]);
  });

  it('gives each provider a line of its own when one flush holds refusals of two providers, or of one and of none, each line with its own counts', () => {
    const { metrics, lines, output } = emf();
    metrics.count(METRIC.signatureFailures, 1, undefined, 'sori');
    metrics.count(METRIC.signatureFailures, 1, undefined, 'sori');
    metrics.count(METRIC.rejected, 1, undefined, 'symphony');
    metrics.count(METRIC.rejected, 1);
    metrics.count(METRIC.accepted, 3, 'campaign.impression');
    metrics.flush(2_000);
    expect(lines).toHaveLength(3);
    const points = extractMetrics(output());
    expect(sumOf(points, 'SignatureFailures', service)).toBe(2);
    expect(sumOf(points, 'Rejected', service)).toBe(2);
    expect(sumOf(points, 'SignatureFailures', { ...service, provider: 'sori' })).toBe(2);
    expect(sumOf(points, 'Rejected', { ...service, provider: 'sori' })).toBe(0);
    expect(sumOf(points, 'Rejected', { ...service, provider: 'symphony' })).toBe(1);
    expect(sumOf(points, 'Accepted', service)).toBe(3);
    expect(points.filter((p) => p.name === 'Accepted' && 'provider' in p.dimensions)).toEqual([]);
  });

  it('never makes a dimension of a name it was not given as a provider: such a refusal counts in the totals only', () => {
    const { metrics, output } = emf(['sori']);
    metrics.count(METRIC.rejected, 1, undefined, 'evil-segment-1');
    metrics.count(METRIC.rejected, 1, undefined, 'symphony');
    metrics.count(METRIC.signatureFailures, 1, undefined, 'constructor');
    metrics.flush(3_000);
    expect(output()).not.toContain('evil-segment-1');
    expect(output()).not.toContain('symphony');
    const points = extractMetrics(output());
    expect(sumOf(points, 'Rejected', service)).toBe(2);
    expect(sumOf(points, 'SignatureFailures', service)).toBe(1);
    expect(points.filter((p) => 'provider' in p.dimensions)).toEqual([]);
  });

  it('serves exactly the providers it is given (here the ones this build knows), and puts no provider on a count that is not a refusal', () => {
    const { metrics, output } = emf();
    for (const provider of ['sori', 'symphony', 'adreform', 'optimizely', 'unknown'])
      metrics.count(METRIC.rejected, 1, undefined, provider);
    metrics.count(METRIC.quarantined, 1, undefined, 'sori');
    metrics.flush(4_000);
    const points = extractMetrics(output());
    const withProvider = points.filter((p) => 'provider' in p.dimensions);
    expect(withProvider.map((p) => `${p.name} ${p.dimensions.provider}`).sort()).toEqual([
      'Rejected adreform',
      'Rejected optimizely',
      'Rejected sori',
      'Rejected symphony',
    ]);
    expect(sumOf(points, 'Quarantined', service)).toBe(1);
  });

  it('starts over after a flush: the next refusal is written alone', () => {
    const { metrics, lines, output } = emf();
    metrics.count(METRIC.rejected, 1, undefined, 'sori');
    metrics.flush(5_000);
    metrics.count(METRIC.signatureFailures, 1, undefined, 'symphony');
    metrics.flush(6_000);
    expect(lines).toHaveLength(2);
    const points = extractMetrics(output());
    expect(sumOf(points, 'Rejected', { ...service, provider: 'sori' })).toBe(1);
    expect(sumOf(points, 'SignatureFailures', { ...service, provider: 'symphony' })).toBe(1);
    expect(sumOf(points, 'Rejected', service)).toBe(1);
    expect(sumOf(points, 'SignatureFailures', service)).toBe(1);
  });

  it('keeps per-provider counts in memory for refusals only', () => {
    const counting = new CountingMetrics();
    counting.count(METRIC.rejected, 1, undefined, 'sori');
    counting.count(METRIC.accepted, 1, 'campaign.click', 'sori');
    expect(counting.get(METRIC.rejected)).toBe(1);
    expect(counting.forProvider(METRIC.rejected, 'sori')).toBe(1);
    expect([...counting.counts.keys()]).not.toContain('Accepted@sori');
  });
});
