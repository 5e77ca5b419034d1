import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { DashboardReader } from '../lib/queries/dashboard';
import { createDashboard } from '../local/dashboard';
import { errorLine, invocation, isEntry, reportFailure, runAsEntry } from './entry';
import { resolveTableTarget } from './local-target';

const usage = () => `Usage: ${invocation('dashboard')} [--stack <name>] [--port <n>]

Serves the campaign dashboard on http://127.0.0.1:<port>/ (default 3030), reading the records table:
  --stack <name>     a deployed stack's table, with your AWS credentials (read-only: Query and GetItem)
  --endpoint <url>   a DynamoDB-API endpoint, with --table <name>
  (none)             the local stack running on DATA_DIR, or its data on disk
  --region <name>    the AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, else your AWS profile's)

Nothing is created in AWS and nothing is written.
`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      stack: { type: 'string' },
      endpoint: { type: 'string' },
      table: { type: 'string' },
      region: { type: 'string' },
      port: { type: 'string', default: '3030' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(usage());
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write('dashboard: --port must be a port number\n');
    return 2;
  }
  const target = await resolveTableTarget({
    stack: values.stack,
    endpoint: values.endpoint,
    table: values.table,
    region: values.region,
  });
  const dashboard = createDashboard(new DashboardReader(target.client, target.tableName, target.layout));
  const server = createServer((request, response) => {
    dashboard(request, response)
      .then((handled) => {
        if (handled) return;
        response.writeHead(404, { 'content-type': 'text/plain' });
        response.end('not found\n');
      })
      .catch((error: unknown) => {
        process.stderr.write(`dashboard: ${errorLine(error)}\n`);
        if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ message: 'the table could not be read' }));
      });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
  } catch (error) {
    void target.close();
    if ((error as { code?: string }).code === 'EADDRINUSE') {
      process.stderr.write(
        `dashboard: port ${port} is in use; choose another with --port <n> (0 picks a free one)\n`,
      );
      return 1;
    }
    throw error;
  }
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  const stop = () => {
    server.close();
    server.closeAllConnections();
    void target.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // Announced only once a signal stops it cleanly: whoever waits for this line may send one at once.
  process.stderr.write(`dashboard: http://127.0.0.1:${actual}/ reading ${target.tableName}\n`);
  return 0;
}

/**
 * The tool: starts the dashboard server, which keeps the process running until SIGINT or SIGTERM.
 * @returns the exit code of starting it (0 serving, 1 failed, 2 usage error).
 */
export async function run(argv: string[]): Promise<number> {
  try {
    return await main(argv);
  } catch (error) {
    return reportFailure('dashboard', error);
  }
}

if (isEntry(import.meta.url)) runAsEntry(run);
