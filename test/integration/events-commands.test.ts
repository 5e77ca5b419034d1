import { Readable, Writable } from 'node:stream';
import { describe, expect, inject, it } from 'vitest';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { run as events } from '../../scripts/events';
import * as dlq from '../../scripts/events/dlq';
import * as exportCommand from '../../scripts/events/export';
import type { EventsIo } from '../../scripts/events/io';
import * as quarantine from '../../scripts/events/quarantine';
import * as query from '../../scripts/events/query';
import * as redrive from '../../scripts/events/redrive';
import * as reprocess from '../../scripts/events/reprocess';
import * as state from '../../scripts/events/state';
import * as stats from '../../scripts/events/stats';
import { soriPayload } from '../support/deliveries';
import { createTestTable, localClients } from '../support/local-aws';
import { storeAndFold } from '../support/store-and-fold';

const { dynamodb } = localClients();
const COMMANDS = { query, quarantine, stats, state, redrive, reprocess, dlq, export: exportCommand };

/** Streams of a test's own: what a command writes is kept, and its stdin is no terminal. */
function capture(): EventsIo & { out: () => string; err: () => string } {
  const kept = { out: '', err: '' };
  const into = (name: 'out' | 'err') =>
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        kept[name] += chunk.toString();
        done();
      },
    });
  return {
    stdout: into('out'),
    stderr: into('err'),
    stdin: Readable.from([]),
    out: () => kept.out,
    err: () => kept.err,
  };
}

describe('the events tool, one module per command', () => {
  it('runs each command from its own module in process: its help on the stdout it is given, the same the tool prints, and a usage error in one line on the stderr it is given, exit code 2', async () => {
    for (const [name, command] of Object.entries(COMMANDS)) {
      expect(command.spec.name).toBe(name);
      const own = capture();
      expect(await command.run(['--help'], own), name).toBe(0);
      const tool = capture();
      expect(await events([name, '--help'], tool), name).toBe(0);
      expect(own.out(), name).toMatch(new RegExp(`^Usage: npm run -s events -- ${name} \\[options\\]`));
      expect(own.out(), name).toBe(tool.out());
      expect(own.err(), name).toBe('');

      const wrong = capture();
      expect(await command.run(['--campain', 'x'], wrong), name).toBe(2);
      expect(wrong.out(), name).toBe('');
      expect(wrong.err(), name).toBe(
        'events: unknown flag --campain; did you mean --campaign? (see --help)\n',
      );
    }
  });

  it('reads the table the shared --endpoint and --table name, writing its rows to the stdout it is given, from the command module as through the tool', async () => {
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    await storeAndFold(writer, counters, [
      buildQueueMessage(
        sori,
        Buffer.from(JSON.stringify(soriPayload('impression'))),
        '2025-10-14T12:00:00.000Z',
      ),
    ]);
    const where = ['--endpoint', inject('dynamodbEndpoint'), '--table', tableName];
    const own = capture();
    expect(await query.run(['--campaign', 'cmp_1234', '--json', ...where], own)).toBe(0);
    expect(own.err()).toBe('');
    const [event] = own
      .out()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(event).toMatchObject({ provider: 'sori', campaign_id: 'cmp_1234', event: 'campaign.impression' });
    const tool = capture();
    expect(await events(['query', '--campaign', 'cmp_1234', '--json', ...where], tool)).toBe(0);
    expect(tool.out()).toBe(own.out());

    const counted = capture();
    expect(await stats.run(['--campaign', 'cmp_1234', ...where], counted)).toBe(0);
    expect(counted.out()).toMatch(/^provider\s+campaign_id\s+day\s+impressions/);
    expect(counted.out()).toContain('(1 row)');
  });
});
