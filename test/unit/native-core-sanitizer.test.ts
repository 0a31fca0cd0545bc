import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { repoRoot, tempDir, testSeed } from '../helpers/native-env.js';

const nativeDir = path.join(repoRoot, 'native');
const coreFiles = [
  'crc32',
  'dir_lock',
  'flush',
  'mapped_file',
  'mapping_registry',
  'page_hints',
  'prefault_service',
  'probes',
  'recovery_scan',
];

t.test('native core: core files build without napi.h', async (t) => {
  for (const name of coreFiles) {
    for (const ext of ['.h', '.cc']) {
      const text = readFileSync(path.join(nativeDir, name + ext), 'utf8');
      t.notMatch(text, /#include\s*<napi\.h>/, `${name}${ext} does not include napi.h`);
    }
  }
  const napiUsers = readdirSync(nativeDir).filter(
    (f) => f.endsWith('.cc') && readFileSync(path.join(nativeDir, f), 'utf8').includes('<napi.h>'),
  );
  t.ok(
    napiUsers.every((f) => f.endsWith('_wrap.cc') || f === 'addon.cc' || f === 'js_util.cc'),
    `only wrap files use napi.h: ${napiUsers.join(', ')}`,
  );
});

const gxx = spawnSync('g++', ['--version'], { stdio: 'ignore' });
t.test(
  'native core: scan, crc, mapping, lock, probe and prefault thread pass under ASan and UBSan',
  { skip: gxx.status === 0 ? false : 'g++ is not installed' },
  async (t) => {
    const out = path.join(tempDir(t), 'core_test');
    const sources = ['test/core_test.cc', ...coreFiles.map((f) => `${f}.cc`)].map((f) =>
      path.join(nativeDir, f),
    );
    execFileSync(
      'g++',
      [
        '-std=c++17',
        '-g',
        '-O1',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-fsanitize=address,undefined',
        '-fno-sanitize-recover=all',
        '-pthread',
        '-o',
        out,
        ...sources,
      ],
      { stdio: 'pipe', timeout: 120_000 },
    );
    const seed = testSeed();
    t.comment(`seed ${seed} (replay with TIDEMQ_SEED=${seed})`);
    const run = spawnSync(out, [String(seed), '3000'], { encoding: 'utf8', timeout: 60_000 });
    t.equal(run.status, 0, `core_test exited 0\n${run.stdout}\n${run.stderr}`);
    t.match(run.stdout, /core_test: ok/);
  },
);
