/**
 * Objects that wait across an asynchronous step on a hot path are made with `new`, never as
 * object literals. V8 tracks an object literal's allocation site, and once a young-generation
 * collection finds most of a site's recent objects alive — as it does for a burst of waiters all
 * pending at once — it allocates every later object of that site in the old generation
 * ("pretenuring", a decision it keeps). A waiter made there outlives its ~1 ms of use until the
 * next full collection, and whatever it referred to (its promise, the promise's result, the
 * continuations) is copied into the old generation with it. Send receipts made as literals did
 * this: ~100 B per message promoted, a full collection every ~0.7 s at 450 k msg/s, and a
 * 10-20 ms end-to-end tail around each. Class instances have no allocation site to pretenure.
 */

/** A promise with its resolve and reject functions. */
export class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (err: unknown) => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}
