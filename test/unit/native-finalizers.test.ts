import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tempDir } from '../helpers/native-env.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'finalizer-child.js');

t.test('mapped-file: finalizers unmap exactly the mappings nothing references', async (t) => {
  const dir = tempDir(t);
  const out = execFileSync(process.execPath, ['--expose-gc', child, dir], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  const r = JSON.parse(out.trim().split('\n').pop()!);
  t.same(r.start, { mapped: 0, unmapped: 0 });
  t.same(r.afterCreate, { mapped: 10, unmapped: 0 }, 'ten mappings counted');
  t.same(r.afterDrop, { mapped: 10, unmapped: 10 }, 'all ten unmapped after gc');
  t.equal(r.beforeViewGc, 10);
  t.ok(r.viewReadable, 'a view over an unlinked file stays readable across gc');
  t.equal(r.whileViewAlive, 10, 'not unmapped while a view is alive');
  t.equal(r.afterViewDropped, 11, 'unmapped once the view is dropped');
  t.same(r.end, { mapped: 15, unmapped: 15 }, 'mappings pinned by in-flight flushes unmapped afterwards');
  t.equal(r.release.unmappedAtOnce, 1, 'releaseMapping unmaps at once');
  t.equal(r.release.viewLength, 0, 'a view of a released mapping reads as empty');
  t.equal(r.release.unmappedAfterGc, 1, 'the released mapping is not unmapped again by its finalizer');
  t.ok(r.release.nextIntact, 'a mapping made after a release keeps its bytes across collections');
  t.ok(
    r.releaseRefusedInFlight,
    'releaseMapping refuses while a flush runs on the mapping, then releases it',
  );
  t.equal(r.reclaimable.counted, 128, 'a deleted mapping counts its 128 MiB as external memory');
  t.equal(r.reclaimable.second, 0, 'once');
  t.ok(r.reclaimable.collections >= 1, `which starts a full collection (${r.reclaimable.collections})`);
  t.equal(r.reclaimable.afterRelease, 0, 'a released mapping is not counted');
  t.ok(r.transfer.senderKeepsIt, 'a mapping in a transfer list stays with the sender');
  t.ok(
    r.transfer.outcome === 'copied' || r.transfer.outcome === 'refused',
    `the transfer list copies it or refuses it (${r.transfer.outcome}, Node ${process.version})`,
  );
  t.not(
    r.transfer.transferMethod,
    'moved',
    `ArrayBuffer.prototype.transfer cannot take it (${r.transfer.transferMethod})`,
  );
  t.ok(
    r.externalGrowthMiB >= 0 && r.externalGrowthMiB < 16,
    `three 128 MiB mappings add ${r.externalGrowthMiB.toFixed(1)} MiB to V8's external memory (< 16)`,
  );
});
