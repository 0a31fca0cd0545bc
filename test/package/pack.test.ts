// tidemq as a dependency: `npm pack` yields a package that installs into another project
// (building the addon there), imports with ESM and require, type-checks, and runs its CLI.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

t.test('package: npm pack installs into another project, with ESM, require, types and the CLI', async (t) => {
  const work = mkdtempSync(path.join(tmpdir(), 'tidemq-pack-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const packed = execFileSync(npm, ['pack', '--silent', '--ignore-scripts', '--pack-destination', work], {
    cwd: repo,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .at(-1)!;
  const tarball = path.join(work, packed);
  const app = path.join(work, 'app');
  execFileSync('mkdir', [app]);
  writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module' }),
  );
  const typescript = path.join(repo, 'node_modules', 'typescript');
  const typesNode = path.join(repo, 'node_modules', '@types', 'node');
  const install = spawnSync(
    npm,
    ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, typescript, typesNode],
    { cwd: app, encoding: 'utf8', timeout: 300_000 },
  );
  t.equal(install.status, 0, `npm install of the tarball (${install.stderr.slice(-500)})`);
  writeFileSync(
    path.join(app, 'main.mts'),
    [
      "import { MessageStore, StoreError, type AppendResult } from 'tidemq';",
      "import { mkdtempSync } from 'node:fs';",
      "import { tmpdir } from 'node:os';",
      "const store = await MessageStore.open(mkdtempSync(tmpdir() + '/tidemq-app-'), { flush: 'sync' });",
      "const r: AppendResult = await store.put({ topic: 'orders', body: 'hi', keys: 'k1' });",
      'await store.waitForDispatch();',
      "let code = '';",
      "try { store.append({ topic: 'bad topic', body: 'x' }); } catch (e) { code = (e as StoreError).code; }",
      "console.log(JSON.stringify({ offset: r.queueOffset, read: store.read('orders', 0, 0, 10).length, key: store.queryByKey('orders', 'k1').length, code }));",
      'await store.close();',
    ].join('\n'),
  );
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        strict: true,
        types: ['node'],
      },
    }),
  );
  const tsc = spawnSync(
    process.execPath,
    [path.join(app, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app],
    {
      encoding: 'utf8',
    },
  );
  t.equal(tsc.status, 0, `the app type-checks against tidemq's types (${tsc.stdout}${tsc.stderr})`);
  const run = spawnSync(process.execPath, [path.join(app, 'main.mjs')], { cwd: app, encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  t.same(JSON.parse(run.stdout), { offset: 0, read: 1, key: 1, code: 'INVALID_TOPIC' });
  const cjs = spawnSync(process.execPath, ['-e', "console.log(typeof require('tidemq').MessageStore.open)"], {
    cwd: app,
    encoding: 'utf8',
  });
  t.equal(cjs.stdout.trim(), 'function', `require('tidemq') works (${cjs.stderr.slice(0, 300)})`);
  const cli = spawnSync(
    process.execPath,
    [path.join(app, 'node_modules', 'tidemq', 'dist', 'src', 'cli', 'main.js'), '--help'],
    {
      encoding: 'utf8',
    },
  );
  t.match(cli.stdout, /inspect/);
});
