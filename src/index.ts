/** tidemq: a RocketMQ-format message store for Node.js. */

export { CONFIG_SPECS, DEFAULTS, resolveConfig, type StoreConfig } from './config.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export type { BatchAppendResult } from './store/commit-log.js';
export { MessageStore } from './store/message-store.js';
export { javaHashCode, StoredRecord } from './store/record-codec.js';
export type {
  AppendResult,
  FlushMode,
  Message,
  RecoveryReport,
  StoredMessage,
  StoreOptions,
  StoreStats,
} from './store/types.js';
