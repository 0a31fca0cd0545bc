/**
 * Broker operating errors. They parallel StoreError: a stable `code` for programs (and for the
 * gRPC server, which maps each code to a v2 status), a message that says what to do for people.
 * Bad input is rejected before anything is written.
 */

export type BrokerErrorCode =
  | 'BAD_REQUEST'
  | 'TOPIC_NOT_FOUND'
  | 'TOPIC_EXISTS'
  | 'ILLEGAL_TOPIC'
  | 'ILLEGAL_CONSUMER_GROUP'
  | 'ILLEGAL_MESSAGE_TAG'
  | 'ILLEGAL_MESSAGE_KEY'
  | 'ILLEGAL_MESSAGE_GROUP'
  | 'ILLEGAL_MESSAGE_PROPERTY_KEY'
  | 'ILLEGAL_FILTER_EXPRESSION'
  | 'ILLEGAL_INVISIBLE_TIME'
  | 'ILLEGAL_DELIVERY_TIME'
  | 'ILLEGAL_PRIORITY'
  | 'MESSAGE_TYPE_MISMATCH'
  | 'MESSAGE_BODY_EMPTY'
  | 'MESSAGE_BODY_TOO_LARGE'
  | 'MESSAGE_PROPERTIES_TOO_LARGE'
  | 'INVALID_RECEIPT_HANDLE'
  | 'INVALID_RECALL_HANDLE'
  | 'MESSAGE_NOT_FOUND'
  | 'INVALID_TRANSACTION_ID'
  | 'TRANSACTION_ALREADY_RESOLVED'
  | 'CLIENT_CLOSED'
  | 'BROKER_CLOSED';

export class BrokerError extends Error {
  readonly code: BrokerErrorCode;

  constructor(code: BrokerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BrokerError';
    this.code = code;
  }
}
