import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { deliverThroughBundles } from '../support/bundles';

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
  it('installs from its tarball with its peers, type-checks under NodeNext, synthesizes the functions, the route and the table, and its shipped bundles store a signed delivery', {
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
  });
});
