/** tidemq: a RocketMQ-format message store for Node.js. */

export { Broker } from './broker/broker.js';
export { BrokerError, type BrokerErrorCode } from './broker/errors.js';
export type { GroupConfig, GroupInfo } from './broker/group-registry.js';
export { MAX_SEND_BATCH, Producer, Transaction } from './broker/producer.js';
export { DELAY_LEVELS_MS, RETRY_BACKOFF_MS } from './broker/properties.js';
export { PushConsumer } from './broker/push-consumer.js';
export { SimpleConsumer } from './broker/simple-consumer.js';
export {
  type BrokerOptions,
  ConsumeResult,
  type ConsumerGroupOptions,
  type FilterExpression,
  type MessageListener,
  type MessageModel,
  type MessageType,
  type MessageView,
  type ProducerOptions,
  type PushConsumerOptions,
  type QueueSelector,
  type RecallReceipt,
  type SendMessage,
  type SendReceipt,
  type SimpleConsumerOptions,
  type TopicInfo,
  type TopicOptions,
  type TopicType,
  type TransactionChecker,
  TransactionResolution,
} from './broker/types.js';
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
  UniqKeyRun,
} from './store/types.js';
