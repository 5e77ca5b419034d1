import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { storeBatch } from '../../lib/ingest/store-batch';
import { sori } from '../../lib/providers/sori';
import { buildQueueMessage } from '../../lib/receive/build-queue-message';
import { deliverThroughBundles } from '../support/bundles';
import { startCloudFormationStandIn } from '../support/cloudformation-stand-in';
import { hexSignature, soriPayload } from '../support/deliveries';
import { createTestTable, eventually, localClients } from '../support/local-aws';
import { exited, startStackProcess } from '../support/stack-process';
import { bareEnv, finished } from '../support/tool-process';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const ours = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  devDependencies: Record<string, string>;
};

/**
 * The stock NodeNext settings of a CDK TypeScript app; `esnext.disposable` because aws-cdk-lib's own
 * declarations use `Disposable` (they fail to type-check without it, with or without this package).
 */
const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['es2022', 'esnext.disposable'],
    declaration: true,
    strict: true,
    noImplicitAny: true,
    strictNullChecks: true,
    noImplicitThis: true,
    alwaysStrict: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
    noImplicitReturns: true,
    noFallthroughCasesInSwitch: false,
    inlineSourceMap: true,
    inlineSources: true,
    experimentalDecorators: true,
    strictPropertyInitialization: false,
    typeRoots: ['./node_modules/@types'],
    outDir: 'out',
  },
  include: ['app.ts'],
  exclude: ['node_modules', 'cdk.out'],
};

/** docs/deploy.md's snippet, as a user pastes it into their app. */
const APP = `import { App, CfnOutput, Stack } from 'aws-cdk-lib';
import { CampaignInbox } from 'campaign-inbox';

const app = new App();
const stack = new Stack(app, 'ConsumerStack');
const inbox = new CampaignInbox(stack, 'Inbox', { alarmEmail: 'ops@example.com' });
inbox.addOutputs();
new CfnOutput(stack, 'SymphonyUrl', { value: inbox.webhookUrl('symphony') });
app.synth();
`;

describe('the package in a CDK app of its own', () => {
  /** A fresh app folder, with the packed tarball, its peers and TypeScript installed: what a user starts from. */
  let app: string;

  beforeAll(async () => {
    app = await mkdtemp(join(tmpdir(), 'campaign-inbox-consumer-'));
    const { stdout: packed } = await run('npm', ['pack', '--silent', '--pack-destination', app], {
      cwd: ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const tarball = join(app, packed.trim().split('\n').pop() ?? '');
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    await writeFile(join(app, 'app.ts'), APP);
    await run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        tarball,
        `aws-cdk-lib@${ours.devDependencies['aws-cdk-lib']}`,
        `constructs@${ours.devDependencies.constructs}`,
        'typescript@5.9.3',
      ],
      { cwd: app, maxBuffer: 64 * 1024 * 1024 },
    );
  }, 600_000);

  it('installs from its tarball with its peers, type-checks under NodeNext, synthesizes the functions, the route and the table, and its shipped bundles store a signed delivery; its CLI, run with npx from the app folder, answers --help, refuses an unknown command with exit code 2, sends the shipped examples, prints the stored events as JSON lines and serves the dashboard', {
    timeout: 600_000,
  }, async () => {
    // What the tarball holds: the built package, no sources, tests, benches or local data.
    const shipped = await readdir(join(app, 'node_modules/campaign-inbox'));
    expect(shipped.sort()).toEqual(['LICENSE', 'README.md', 'dist', 'package.json']);
    // No dependencies of its own: the SDK clients, valibot and the rest are in the bundles.
    for (const name of ['@aws-sdk', '@aws-lambda-powertools', '@middy', 'valibot'])
      expect(existsSync(join(app, 'node_modules', name)), name).toBe(false);

    await run(join(app, 'node_modules/.bin/tsc'), ['-p', app], { cwd: app });
    const outdir = join(app, 'cdk.out');
    await run(process.execPath, [join(app, 'out/app.js')], {
      cwd: app,
      env: { ...process.env, CDK_OUTDIR: outdir },
    });
    const template = JSON.parse(await readFile(join(outdir, 'ConsumerStack.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const ofType = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);
    expect(ofType('AWS::Lambda::Function').length).toBeGreaterThanOrEqual(2);
    expect(ofType('AWS::ApiGatewayV2::Route').map((route) => route.Properties.RouteKey)).toContain(
      'ANY /webhooks/{provider}',
    );
    expect(ofType('AWS::DynamoDB::GlobalTable')).toHaveLength(1);
    // The functions' code is the prebuilt bundles the package ships, not a bundling of sources at synth.
    for (const fn of ofType('AWS::Lambda::Function').filter(
      (f) => f.Properties.Handler === 'index.handler',
    )) {
      expect(fn.Properties.Runtime).toBe('nodejs24.x');
    }
    // Those shipped bundles, run as Lambda runs them against the local servers, store a signed delivery.
    const { id, events } = await deliverThroughBundles(outdir, template.Resources, {
      receive: 'InboxReceiveFunction',
      process: 'InboxProcessFunction',
    });
    expect(events.map((item) => item.id?.S)).toEqual([id]);

    // The CLI on the package's bin, from the consumer's folder, against a local stack started elsewhere.
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-consumer-data-'));
    const secret = 'consumer-cli-secret';
    const stack = await startStackProcess(dataDir, { SORI_SECRET_KEY: secret });
    const cli = (...args: string[]) =>
      // The bin npm links into the app, run as npx would run it.
      run(join(app, 'node_modules', '.bin', 'campaign-inbox'), args, {
        cwd: app,
        env: { ...process.env, DATA_DIR: dataDir, SORI_SECRET_KEY: secret },
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
    const jsonLines = (stdout: string) =>
      stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    try {
      // npx keeps a bare `--help` for itself: `help`, `-h` and `-- --help` reach the CLI, as does the bin itself.
      for (const args of [['help'], ['-h'], ['--', '--help'], ['events', '--help']]) {
        const help = await cli(...args);
        expect(help.code, args.join(' ')).toBe(0);
        expect(help.stdout, args.join(' ')).toMatch(/^Usage: campaign-inbox (events )?<command>/);
        // Once, with exit code 0: inside the bundle no tool also runs itself on the CLI's arguments.
        expect(help.stdout.match(/^Usage:/gm), args.join(' ')).toHaveLength(1);
      }
      const bin = await run(join(app, 'node_modules/.bin/campaign-inbox'), ['--help'], { cwd: app });
      expect(bin.stdout).toMatch(/^Usage: campaign-inbox <command>/);
      const unknown = await cli('frobnicate');
      expect(unknown.code).toBe(2);
      expect(unknown.stdout).toBe('');
      expect(unknown.stderr).toContain('unknown command "frobnicate"');

      // A signed delivery of a campaign of its own, posted as SORI does.
      const campaign = `cmp_consumer_${Date.now()}`;
      const payload = soriPayload('impression');
      const body = JSON.stringify({
        ...payload,
        created_at: new Date().toISOString(),
        campaign: { ...(payload.campaign as object), id: campaign },
      });
      const posted = await fetch(stack.info.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-sori-signature': hexSignature(body, secret) },
        body,
      });
      expect(posted.status).toBe(202);
      // `send` posts the example payloads shipped beside the bundle, one JSON result per line.
      const sent = await cli('send', '--json');
      expect(sent.code, sent.stderr).toBe(0);
      expect(jsonLines(sent.stdout).map((line) => line.status)).toEqual(Array(6).fill(202));

      // `events query --json | jq .`: every line of stdout is one JSON object, the stored event among them.
      const events = await eventually(
        async () => {
          const query = await cli('events', 'query', '--json');
          expect(query.code, query.stderr).toBe(0);
          const lines = jsonLines(query.stdout);
          return lines.some((line) => line.campaign_id === campaign) ? lines : undefined;
        },
        30_000,
        'the delivery stored',
      );
      expect(events.find((line) => line.campaign_id === campaign)).toMatchObject({
        event: 'campaign.impression',
        device_id: 'device_abc',
      });
      expect(events.some((line) => line.campaign_id === 'cmp_1234')).toBe(true);
      expect(new Set(events.map((line) => line.id)).size).toBe(events.length);

      // `dashboard` serves the page shipped beside the bundle and today's numbers from the same stack; the
      // bin run directly (npx would stand between the test and the server's SIGTERM).
      const dashboard = spawn(join(app, 'node_modules/.bin/campaign-inbox'), ['dashboard', '--port', '0'], {
        cwd: app,
        env: { ...process.env, DATA_DIR: dataDir },
      });
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let seen = '';
          dashboard.stderr.on('data', (chunk: Buffer) => {
            seen += chunk.toString();
            const match = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(seen);
            if (match?.[1]) resolve(match[1]);
          });
          dashboard.on('exit', (code) => reject(new Error(`dashboard exited with ${code}: ${seen}`)));
        });
        expect(await (await fetch(url)).text()).toContain('Impressions and clicks per hour');
        const today = (await (await fetch(`${url}api/dashboard`)).json()) as {
          campaigns: { campaign_id: string }[];
        };
        expect(today.campaigns.map((c) => c.campaign_id)).toContain(campaign);
      } finally {
        const stopped = exited(dashboard);
        dashboard.kill('SIGTERM');
        expect((await stopped).code).toBe(0);
      }
    } finally {
      await stack.kill('SIGTERM');
    }
  });

  it("its CLI stands alone in the app, with no AWS settings and no local stack: events, dashboard and send say in one line what to pass instead (for a stopped stack's data too, which needs dynalite) and never mention npm start; --stack with no region says to pass --region or set AWS_REGION, and with AWS_DEFAULT_REGION reads the stack's table; events query --json reads a table given by --endpoint and --table, every line one JSON object, and ends quietly with exit 0 when its reader stops early", {
    timeout: 300_000,
  }, async () => {
    const bin = join(app, 'node_modules/.bin/campaign-inbox');
    const dataDir = await mkdtemp(join(tmpdir(), 'campaign-inbox-consumer-empty-'));
    const env = bareEnv({ DATA_DIR: dataDir });
    // The bin itself (no npx between the test and the process).
    const cli = (args: string[], extra: Record<string, string | undefined> = {}) =>
      run(bin, args, { cwd: app, env: { ...env, ...extra } }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
    const oneLine = (result: { stderr: string }, what: string) =>
      expect(result.stderr.trim().split('\n'), what).toHaveLength(1);

    for (const [args, instead] of [
      [['events', 'query'], '--stack <name> (or --endpoint and --table)'],
      [['events', 'dlq', 'list'], '--stack <name>'],
      [['dashboard', '--port', '0'], '--stack <name> (or --endpoint and --table)'],
      [['send'], '--url <webhook URL>'],
    ] as const) {
      const result = await cli([...args]);
      const what = args.join(' ');
      expect(result.code, `${what}: ${result.stderr}`).toBe(1);
      oneLine(result, what);
      expect(result.stderr, what).toContain(`no local stack found in ${dataDir}; pass ${instead}`);
      expect(result.stderr, what).not.toContain('npm start');
    }
    // A stopped local stack's data, which the package reads only with dynalite, which it leaves out.
    const stopped = await mkdtemp(join(tmpdir(), 'campaign-inbox-consumer-stopped-'));
    await mkdir(join(stopped, 'dynamodb'));
    const unread = await cli(['events', 'query'], { DATA_DIR: stopped });
    expect(unread.code, unread.stderr).toBe(1);
    oneLine(unread, 'events query on stopped data');
    expect(unread.stderr).toContain(
      `no local stack runs in ${stopped}, and reading its data needs dynalite (npm install dynalite); or pass --stack <name>`,
    );
    expect(unread.stderr).not.toContain('npm start');
    for (const args of [
      ['events', 'query', '--stack', 'MyStack'],
      ['set-secret', '--show-token-url', '--stack', 'MyStack'],
    ]) {
      const result = await cli(args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      oneLine(result, args.join(' '));
      expect(result.stderr).toContain('no AWS region: pass --region <name> or set AWS_REGION');
    }

    // A table on the run's DynamoDB-API server, holding one delivery of a campaign of its own.
    const { dynamodb } = localClients();
    const { tableName, writer, counters } = await createTestTable(dynamodb);
    const campaign = `cmp_standalone_${Date.now()}`;
    const payload = soriPayload('impression');
    const body = JSON.stringify({
      ...payload,
      created_at: new Date().toISOString(),
      campaign: { ...(payload.campaign as object), id: campaign },
    });
    await storeBatch(writer, counters, [
      buildQueueMessage(sori, Buffer.from(body), new Date().toISOString()),
    ]);
    const where = ['--endpoint', inject('dynamodbEndpoint'), '--table', tableName];
    const query = await cli(['events', 'query', '--json', ...where]);
    expect(query.code, query.stderr).toBe(0);
    const lines = query.stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => line.campaign_id)).toEqual([campaign]);

    // The same table as a deployed stack's: its outputs from a CloudFormation stand-in (none runs locally),
    // the region from AWS_DEFAULT_REGION, which the SDK does not read itself.
    const cloudFormation = await startCloudFormationStandIn('MyStack', {
      EventsTableName: tableName,
      Shards: '1',
      RecordRetentionDays: '0',
    });
    try {
      const deployed = await cli(['events', 'query', '--json', '--stack', 'MyStack'], {
        AWS_DEFAULT_REGION: 'eu-west-3',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_CLOUDFORMATION: cloudFormation.endpoint,
        AWS_ENDPOINT_URL_DYNAMODB: inject('dynamodbEndpoint'),
      });
      expect(deployed.code, deployed.stderr).toBe(0);
      expect(
        deployed.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line).campaign_id),
      ).toEqual([campaign]);
      expect(cloudFormation.asked).toEqual([{ action: 'DescribeStacks', region: 'eu-west-3' }]);
    } finally {
      await cloudFormation.stop();
    }

    // `| head -c 0`: the reader closes stdout before the CLI writes anything.
    const piped = spawn(bin, ['events', 'query', '--json', ...where], { cwd: app, env });
    piped.stdout.destroy();
    const ended = await finished(piped);
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stderr).toBe('');
  });
});
