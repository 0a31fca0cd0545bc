/** The type of a tap test context, for helpers that take one. */
import type t from 'tap';

export type TestContext = Parameters<Parameters<typeof t.test>[0]>[0];
