import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { MapFlags, native } from '../../src/native.js';
import { tempDir } from '../helpers/native-env.js';

t.test('probes: probeMemcpy copies count records and reports its time', async (t) => {
  const mapping = native.mapFile(path.join(tempDir(t), 'seg'), 1 << 20, MapFlags.create);
  const r = native.probeMemcpy(mapping, 1000, 5000); // wraps around the 1 MiB mapping
  t.equal(r.ops, 5000);
  t.equal(r.syncs, 0);
  t.ok(r.elapsedNs > 0);
  t.not(new Uint8Array(mapping)[1], 0, 'the mapping was written');
  t.throws(() => native.probeMemcpy(mapping, 0, 1), RangeError);
  t.throws(() => native.probeMemcpy(mapping, (1 << 20) + 1, 1), RangeError);
});

t.test('probes: probeGroupCommit shares fdatasyncs between writers', async (t) => {
  const file = path.join(tempDir(t), 'probe.log');
  const r = await native.probeGroupCommit(file, 4, 256, 200);
  t.ok(r.ops > 0, `ops ${r.ops}`);
  t.ok(r.syncs > 0, `syncs ${r.syncs}`);
  t.ok(r.syncs <= r.ops, 'never more syncs than writes');
  t.ok(r.elapsedNs >= 200e6, 'ran for the requested duration');
  t.notOk(existsSync(file), 'the probe file is removed');
  await t.rejects(native.probeGroupCommit(path.join(file, 'no', 'dir'), 2, 64, 10), { code: 'ENOENT' });
  t.throws(() => native.probeGroupCommit(file, 0, 64, 10), RangeError);
});
