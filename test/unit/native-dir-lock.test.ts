import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { native } from '../../src/native.js';
import { tempDir } from '../helpers/native-env.js';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'lock-child.js');
const tryInChild = (file: string) =>
  JSON.parse(execFileSync(process.execPath, [child, file], { encoding: 'utf8', timeout: 20_000 }).trim());

t.test('dir-lock: a held lock refuses a second holder, in this process and in another', async (t) => {
  const file = path.join(tempDir(t), 'lock');
  const fd = native.lockFile(file);
  t.ok(Number.isInteger(fd) && fd >= 0, 'returns an fd');
  t.throws(() => native.lockFile(file), {
    code: 'EWOULDBLOCK',
    errno: os.constants.errno.EWOULDBLOCK,
    syscall: 'flock',
  });
  t.same(tryInChild(file), { locked: false, code: 'EWOULDBLOCK', errno: os.constants.errno.EWOULDBLOCK });

  native.unlockFile(fd);
  t.same(tryInChild(file), { locked: true }, 'free for another process after unlockFile');
  const again = native.lockFile(file);
  native.unlockFile(again);
  t.throws(() => native.unlockFile(again), { code: 'EBADF' }, 'an fd is released once');
});

t.test('dir-lock: a missing directory is an ENOENT error', async (t) => {
  t.throws(() => native.lockFile(path.join(tempDir(t), 'no', 'lock')), { code: 'ENOENT', syscall: 'open' });
  t.throws(() => native.lockFile('' as string), TypeError);
});
