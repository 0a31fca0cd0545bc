import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import t from 'tap';
import { MapFlags, native } from '../../src/native.js';
import { tempDir } from '../helpers/native-env.js';

const workerScript = new URL('./fixtures/map-worker.js', import.meta.url);

t.test('native: four worker threads map, write and flush one file concurrently', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'shared-seg');
  const sliceBytes = 64 * 1024;
  writeFileSync(file, Buffer.alloc(4 * sliceBytes));
  const before = native.mappingCounters();

  const results = await Promise.all(
    [0, 1, 2, 3].map(
      (index) =>
        new Promise<{ index: number; counters: { mapped: number }; sameBytes: boolean; exitCode: number }>(
          (resolve, reject) => {
            // execArgv: [] keeps the test runner's loaders out of the workers (they are plain JS).
            const worker = new Worker(workerScript, {
              workerData: { file, index, sliceBytes },
              execArgv: [],
            });
            let message: { index: number; counters: { mapped: number }; sameBytes: boolean } | undefined;
            worker.on('message', (m) => {
              message = m;
            });
            worker.on('error', reject);
            worker.on('exit', (exitCode) =>
              message ? resolve({ ...message, exitCode }) : reject(new Error(`worker ${index} sent nothing`)),
            );
          },
        ),
    ),
  );
  for (const r of results) {
    t.equal(r.exitCode, 0, `worker ${r.index} exited cleanly`);
    t.equal(r.counters.mapped, 2, `worker ${r.index} has its own counters`);
    t.ok(r.sameBytes, `worker ${r.index} reads its writes through a second mapping`);
  }
  const data = readFileSync(file);
  for (let i = 0; i < 4; i++) {
    t.ok(
      data.subarray(i * sliceBytes, (i + 1) * sliceBytes).every((b) => b === i + 1),
      `slice ${i} on disk`,
    );
  }
  t.same(native.mappingCounters(), before, 'the main thread counters are untouched');
  const mapping = native.mapFile(path.join(dir, 'after'), 4096, MapFlags.create);
  new Uint8Array(mapping)[0] = 9;
  await native.flush(mapping, 0, 4096);
  t.pass('main thread still maps and flushes after the workers exited');
});
