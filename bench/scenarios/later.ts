/**
 * Slots for scenarios whose store features have not landed (issue 3: consume queues, dispatch,
 * key index). Each reports "not available" and why, instead of a figure; when the method shows
 * up, the slot says so, and the scenario is written against its real signature.
 */
import { notAvailable } from '../outcome.js';
import type { ScenarioOutcome, ScenarioSpec } from '../spec.js';
import { type BenchStore, openStore } from '../store-api.js';

const needs: Record<string, { method: keyof BenchStore | undefined; what: string }> = {
  'slot-read-queue': { method: 'read', what: 'store.read(topic, queueId, offset, max) (issue 3)' },
  'slot-key-lookup': { method: 'queryByKey', what: 'store.queryByKey(topic, key) (issue 3)' },
  'slot-dispatch': { method: undefined, what: 'dispatch statistics (dispatchedPosition, lag) (issue 3)' },
  'slot-rebuild': { method: undefined, what: 'a consume-queue rebuild entry point (issue 3)' },
};

export async function laterSlot(spec: ScenarioSpec, dir: string): Promise<ScenarioOutcome> {
  const need = needs[spec.kind];
  if (need === undefined) throw new Error(`no slot ${spec.kind}`);
  const store = await openStore(dir);
  const present = need.method !== undefined && typeof store[need.method] === 'function';
  await store.close();
  return notAvailable(
    present
      ? `${need.what} exists now, but this bench slot has not been written against it yet`
      : `not available yet: ${need.what} has not landed`,
  );
}
