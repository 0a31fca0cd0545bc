/**
 * apache.rocketmq.v2 status codes and the mapping from BrokerError codes. Application errors
 * travel as gRPC OK with a Status in the response body; the official clients turn the code into
 * their own exception classes (4xxxx bad request / not found, 5xxxx internal).
 */
import { BrokerError, type BrokerErrorCode } from '../broker/errors.js';

/** Values of the apache.rocketmq.v2.Code enum used by this server. */
export const Code = {
  OK: 20000,
  MULTIPLE_RESULTS: 30000,
  BAD_REQUEST: 40000,
  ILLEGAL_TOPIC: 40002,
  ILLEGAL_CONSUMER_GROUP: 40003,
  ILLEGAL_MESSAGE_TAG: 40004,
  ILLEGAL_MESSAGE_KEY: 40005,
  ILLEGAL_MESSAGE_GROUP: 40006,
  ILLEGAL_MESSAGE_PROPERTY_KEY: 40007,
  INVALID_TRANSACTION_ID: 40008,
  ILLEGAL_MESSAGE_ID: 40009,
  ILLEGAL_FILTER_EXPRESSION: 40010,
  ILLEGAL_INVISIBLE_TIME: 40011,
  ILLEGAL_DELIVERY_TIME: 40012,
  INVALID_RECEIPT_HANDLE: 40013,
  MESSAGE_PROPERTY_CONFLICT_WITH_TYPE: 40014,
  UNRECOGNIZED_CLIENT_TYPE: 40015,
  CLIENT_ID_REQUIRED: 40017,
  UNAUTHORIZED: 40100,
  FORBIDDEN: 40300,
  NOT_FOUND: 40400,
  MESSAGE_NOT_FOUND: 40401,
  TOPIC_NOT_FOUND: 40402,
  MESSAGE_BODY_TOO_LARGE: 41301,
  MESSAGE_BODY_EMPTY: 41302,
  MESSAGE_PROPERTIES_TOO_LARGE: 43101,
  INTERNAL_ERROR: 50000,
  INTERNAL_SERVER_ERROR: 50001,
  NOT_IMPLEMENTED: 50100,
} as const;

export interface Status {
  code: number;
  message: string;
}

const BY_BROKER_CODE: Record<BrokerErrorCode, number> = {
  BAD_REQUEST: Code.BAD_REQUEST,
  TOPIC_NOT_FOUND: Code.TOPIC_NOT_FOUND,
  TOPIC_EXISTS: Code.BAD_REQUEST,
  ILLEGAL_TOPIC: Code.ILLEGAL_TOPIC,
  ILLEGAL_CONSUMER_GROUP: Code.ILLEGAL_CONSUMER_GROUP,
  ILLEGAL_MESSAGE_TAG: Code.ILLEGAL_MESSAGE_TAG,
  ILLEGAL_MESSAGE_KEY: Code.ILLEGAL_MESSAGE_KEY,
  ILLEGAL_MESSAGE_GROUP: Code.ILLEGAL_MESSAGE_GROUP,
  ILLEGAL_MESSAGE_PROPERTY_KEY: Code.ILLEGAL_MESSAGE_PROPERTY_KEY,
  ILLEGAL_FILTER_EXPRESSION: Code.ILLEGAL_FILTER_EXPRESSION,
  ILLEGAL_INVISIBLE_TIME: Code.ILLEGAL_INVISIBLE_TIME,
  ILLEGAL_DELIVERY_TIME: Code.ILLEGAL_DELIVERY_TIME,
  ILLEGAL_PRIORITY: Code.BAD_REQUEST,
  MESSAGE_TYPE_MISMATCH: Code.MESSAGE_PROPERTY_CONFLICT_WITH_TYPE,
  MESSAGE_BODY_EMPTY: Code.MESSAGE_BODY_EMPTY,
  MESSAGE_BODY_TOO_LARGE: Code.MESSAGE_BODY_TOO_LARGE,
  MESSAGE_PROPERTIES_TOO_LARGE: Code.MESSAGE_PROPERTIES_TOO_LARGE,
  INVALID_RECEIPT_HANDLE: Code.INVALID_RECEIPT_HANDLE,
  INVALID_RECALL_HANDLE: Code.BAD_REQUEST,
  MESSAGE_NOT_FOUND: Code.NOT_FOUND,
  INVALID_TRANSACTION_ID: Code.INVALID_TRANSACTION_ID,
  TRANSACTION_ALREADY_RESOLVED: Code.INVALID_TRANSACTION_ID,
  CLIENT_CLOSED: Code.BAD_REQUEST,
  BROKER_CLOSED: Code.INTERNAL_SERVER_ERROR,
};

export const OK: Status = { code: Code.OK, message: 'OK' };

export function status(code: number, message: string): Status {
  return { code, message };
}

/** A request the server itself rejects with a v2 code that has no broker equivalent. */
export class ProtocolError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** The v2 status for an error thrown by the broker (anything else is an internal error). */
export function statusOf(err: unknown): Status {
  if (err instanceof ProtocolError) return { code: err.code, message: err.message };
  if (err instanceof BrokerError)
    return { code: BY_BROKER_CODE[err.code] ?? Code.INTERNAL_ERROR, message: err.message };
  return { code: Code.INTERNAL_ERROR, message: err instanceof Error ? err.message : String(err) };
}
