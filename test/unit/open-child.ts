/**
 * Child process: opens the store at argv[2] (options JSON in argv[3]), prints one JSON line —
 * { ok: true } or { code, message } — closes it and exits.
 */
import { MessageStore, StoreError } from '../../src/index.js';

try {
  const store = await MessageStore.open(process.argv[2]!, JSON.parse(process.argv[3] ?? '{}'));
  await store.close();
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  console.log(
    JSON.stringify({
      code: err instanceof StoreError ? err.code : 'NOT_A_STORE_ERROR',
      message: String(err),
    }),
  );
}
