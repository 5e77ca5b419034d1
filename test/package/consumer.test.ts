import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { deliverThroughBundles } from '../support/bundles';
import { hexSignature, soriPayload } from '../support/deliveries';
import { eventually } from '../support/local-aws';
import { exited, startStackProcess } from '../support/stack-process';

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

/** The README's snippet, as a user pastes it into their app. */
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
  it('installs from its tarball with its peers, type-checks under NodeNext, synthesizes the functions, the route and the table, and its shipped bundles store a signed delivery; its CLI, run with npx from the app folder, answers --help, refuses an unknown command with exit code 2, sends the shipped examples, prints the stored events as JSON lines and serves the dashboard', {
    timeout: 600_000,
  }, async () => {
    const app = await mkdtemp(join(tmpdir(), 'campaign-inbox-consumer-'));
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
      run('npx', ['campaign-inbox', ...args], {
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
});
