// The cost per million of each front door, HTTP API and Lambda function URL, at the default settings: from the
// cost model's own figures in bench/results.json (written by `npm run bench`) and the list prices in
// bench/prices.json, merged into bench/results.json as new fields. Run with `npm run bench:front-door`.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..');
const RESULTS = join(ROOT, 'bench', 'results.json');
const PRICES = join(ROOT, 'bench', 'prices.json');

type Prices = Record<string, number | string>;

/** What this reads of bench/results.json: the cost model's figures, as `npm run bench` writes them. */
interface Results {
  summary: Record<string, unknown>;
  assumptions?: Record<string, unknown>;
  cost: { ours: { apiGateway: number; total: number } };
  realistic: {
    workload: { duplicateShare: number };
    stack: { accessLogBytes: number };
    rates: {
      isDefault: boolean;
      ratePerSecond: number;
      costPerMillion: { deliveriesPerMillionStored: number; parts: Record<string, number>; total: number };
    }[];
  };
  [key: string]: unknown;
}

/** One front door's cost at one rate, USD. */
interface DoorCost {
  perMillionStoredEvents: number;
  perMillionDeliveries: number;
  /** What the door itself adds per million deliveries: API Gateway's requests and access logs, or nothing. */
  doorPerMillionDeliveries: number;
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

/**
 * Each door's cost per million at each default-setting rate. The HTTP API's is the cost model's total; a
 * function URL's is the same less what only API Gateway bills, recomputed from the list prices: its requests
 * (`apiGatewayHttpPerMillionRequests`) and its access log lines (`cloudwatchLogsIngestPerGb`, at the stage's
 * measured line size). A function URL costs nothing beyond the function's own invocations, which both doors pay.
 */
export function frontDoorCosts(results: Results, prices: Prices) {
  const price = (name: string) => {
    const value = Number(prices[name]);
    if (!Number.isFinite(value)) throw new Error(`bench/prices.json has no ${name}`);
    return value;
  };
  const keep = 1 - results.realistic.workload.duplicateShare;
  const rates = results.realistic.rates
    .filter((rate) => rate.isDefault)
    .map((rate) => {
      const deliveries = rate.costPerMillion.deliveriesPerMillionStored;
      const apiGateway = (deliveries / 1e6) * price('apiGatewayHttpPerMillionRequests');
      const accessLogs =
        ((deliveries * results.realistic.stack.accessLogBytes) / 1024 ** 3) *
        price('cloudwatchLogsIngestPerGb');
      const httpApi = rate.costPerMillion.total;
      const functionUrl = httpApi - apiGateway - accessLogs;
      const door = (total: number, own: number): DoorCost => ({
        perMillionStoredEvents: total,
        perMillionDeliveries: total * keep,
        doorPerMillionDeliveries: own * keep,
      });
      return {
        ratePerSecond: rate.ratePerSecond,
        httpApi: door(httpApi, apiGateway + accessLogs),
        functionUrl: door(functionUrl, 0),
        ratio: functionUrl / httpApi,
        // The cost model's own API Gateway part, which the recomputed one must equal.
        modelApiGateway: rate.costPerMillion.parts.apiGateway ?? 0,
        recomputedApiGateway: apiGateway,
      };
    });
  if (rates.length === 0)
    throw new Error('bench/results.json has no default-setting rate: run npm run bench first');
  // The small workload's model (full batches, no access logs in it): only API Gateway's requests differ.
  const small = {
    httpApi: results.cost.ours.total,
    functionUrl: results.cost.ours.total - results.cost.ours.apiGateway,
  };
  return { rates, small: { ...small, ratio: small.functionUrl / small.httpApi } };
}

/** The new summary fields (snake case, as the others) and what each means. */
export function frontDoorSummary(costs: ReturnType<typeof frontDoorCosts>) {
  const summary: Record<string, number> = {
    function_url_cost_per_million_events_usd: round(costs.small.functionUrl, 2),
    function_url_vs_http_api_cost_ratio: round(costs.small.ratio, 2),
  };
  const assumptions: Record<string, string> = {
    function_url_cost_per_million_events_usd:
      'cost_per_million_events_usd with a Lambda function URL in front of the receive function instead of the HTTP API: the same model less API Gateway’s requests (a function URL bills nothing beyond the invocations both doors pay)',
    function_url_vs_http_api_cost_ratio:
      'function_url_cost_per_million_events_usd / cost_per_million_events_usd',
  };
  for (const rate of costs.rates) {
    const at = `at_${rate.ratePerSecond}_per_s`;
    summary[`function_url_cost_per_million_events_usd_${at}`] = round(
      rate.functionUrl.perMillionStoredEvents,
      2,
    );
    summary[`function_url_cost_per_million_deliveries_usd_${at}`] = round(
      rate.functionUrl.perMillionDeliveries,
      2,
    );
    summary[`http_api_door_cost_per_million_deliveries_usd_${at}`] = round(
      rate.httpApi.doorPerMillionDeliveries,
      3,
    );
    summary[`function_url_vs_http_api_cost_ratio_${at}`] = round(rate.ratio, 2);
    assumptions[`function_url_cost_per_million_events_usd_${at}`] =
      `cost_per_million_events_usd_${at} with a Lambda function URL in front instead of the HTTP API: the same parts less API Gateway’s requests and its access log lines (recomputed from bench/prices.json), at the default settings; the function's invocations, SQS, DynamoDB and function logs unchanged`;
    assumptions[`function_url_cost_per_million_deliveries_usd_${at}`] =
      `function_url_cost_per_million_events_usd_${at} spread over the webhook deliveries, duplicates included, as cost_per_million_deliveries_usd_${at}`;
    assumptions[`http_api_door_cost_per_million_deliveries_usd_${at}`] =
      'what the HTTP API itself costs per million deliveries: its requests and its access log lines';
    assumptions[`function_url_vs_http_api_cost_ratio_${at}`] =
      `function_url_cost_per_million_events_usd_${at} / cost_per_million_events_usd_${at}`;
  }
  return { summary, assumptions };
}

/** Reads bench/results.json, adds the front doors' figures (never renaming or dropping a field), writes it. */
export function writeFrontDoorFigures(): ReturnType<typeof frontDoorCosts> {
  const results = JSON.parse(readFileSync(RESULTS, 'utf8')) as Results;
  const prices = JSON.parse(readFileSync(PRICES, 'utf8')) as Prices;
  const costs = frontDoorCosts(results, prices);
  for (const rate of costs.rates) {
    if (Math.abs(rate.modelApiGateway - rate.recomputedApiGateway) > 1e-9)
      throw new Error(
        `API Gateway at ${rate.ratePerSecond}/s: the cost model says ${rate.modelApiGateway}, the prices give ${rate.recomputedApiGateway}: bench/results.json and bench/prices.json disagree`,
      );
  }
  const { summary, assumptions } = frontDoorSummary(costs);
  const merged: Results = {
    ...results,
    summary: { ...results.summary, ...summary },
    assumptions: { ...results.assumptions, ...assumptions },
    frontDoor: {
      prices: { region: prices.region, date: prices.date },
      note: 'per million at the default settings; the HTTP API: the cost model; a function URL: the same less API Gateway’s requests and access logs. Fixed costs apart (with frontDoor functionUrl the HTTP API still serves the campaign dashboard, billed per page request)',
      rates: costs.rates.map(({ modelApiGateway: _, recomputedApiGateway: __, ...rate }) => rate),
      small: costs.small,
    },
  };
  writeFileSync(RESULTS, `${JSON.stringify(merged, null, 2)}\n`);
  try {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'biome'), ['format', '--write', 'bench/results.json'], {
      cwd: ROOT,
      stdio: 'ignore',
    });
  } catch {
    console.error('bench/results.json left unformatted: biome did not run');
  }
  return costs;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const costs = writeFrontDoorFigures();
  const usd = (value: number) => `$${value.toFixed(2)}`;
  console.log('cost per million at the default settings, by front door (USD):');
  console.table(
    costs.rates.map((rate) => ({
      rate: `${rate.ratePerSecond}/s`,
      'HTTP API, per million deliveries': usd(rate.httpApi.perMillionDeliveries),
      'function URL, per million deliveries': usd(rate.functionUrl.perMillionDeliveries),
      'HTTP API, per million stored events': usd(rate.httpApi.perMillionStoredEvents),
      'function URL, per million stored events': usd(rate.functionUrl.perMillionStoredEvents),
      'function URL / HTTP API': rate.ratio.toFixed(2),
      'the HTTP API itself, per million deliveries': usd(rate.httpApi.doorPerMillionDeliveries),
    })),
  );
  console.log(
    `small workload, full batches (cost_per_million_events_usd): HTTP API ${usd(costs.small.httpApi)}, function URL ${usd(costs.small.functionUrl)} (× ${costs.small.ratio.toFixed(2)})`,
  );
  console.log('wrote bench/results.json (frontDoor, and function_url_* / http_api_door_* in summary)');
}
