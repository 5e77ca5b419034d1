import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frontDoorCosts, frontDoorSummary } from '../../bench/front-door';

const read = (name: string) =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../../bench', name), 'utf8'));
const prices = read('prices.json');
const results = read('results.json');

describe('the cost per million by front door (bench/front-door.ts)', () => {
  it("reports a function URL's cost beside the HTTP API's at each default rate: the cost model's total less API Gateway's requests and access log lines, from bench/prices.json", () => {
    const costs = frontDoorCosts(results, prices);
    const defaults = results.realistic.rates.filter((rate: { isDefault: boolean }) => rate.isDefault);
    expect(costs.rates.map((rate) => rate.ratePerSecond)).toEqual(
      defaults.map((rate: { ratePerSecond: number }) => rate.ratePerSecond),
    );
    for (const [i, rate] of costs.rates.entries()) {
      const { parts, total, deliveriesPerMillionStored } = defaults[i].costPerMillion;
      expect(rate.httpApi.perMillionStoredEvents).toBe(total);
      // $1.00 per million HTTP API requests, on every delivery (duplicates included).
      expect(rate.recomputedApiGateway).toBeCloseTo(
        (deliveriesPerMillionStored / 1e6) * prices.apiGatewayHttpPerMillionRequests,
        9,
      );
      expect(rate.recomputedApiGateway).toBeCloseTo(parts.apiGateway, 9);
      expect(rate.functionUrl.perMillionStoredEvents).toBeCloseTo(
        total - parts.apiGateway - parts.apiAccessLogs,
        9,
      );
      expect(rate.ratio).toBeCloseTo(rate.functionUrl.perMillionStoredEvents / total, 9);
      expect(rate.functionUrl.doorPerMillionDeliveries).toBe(0);
      const keep = 1 - results.realistic.workload.duplicateShare;
      expect(rate.httpApi.perMillionDeliveries).toBeCloseTo(total * keep, 9);
    }
    expect(costs.small.functionUrl).toBeCloseTo(
      results.cost.ours.total - prices.apiGatewayHttpPerMillionRequests,
      9,
    );
  });

  it('adds summary fields under new names only, each with what it means', () => {
    const { summary, assumptions } = frontDoorSummary(frontDoorCosts(results, prices));
    const before = Object.keys(results.summary).filter((key) => !/^(function_url_|http_api_door_)/.test(key));
    expect(Object.keys(summary).filter((key) => before.includes(key))).toEqual([]);
    expect(Object.keys(assumptions).sort()).toEqual(Object.keys(summary).sort());
    expect(summary.function_url_cost_per_million_deliveries_usd_at_10_per_s).toBeLessThan(
      results.summary.cost_per_million_deliveries_usd_at_10_per_s,
    );
  });
});
