/**
 * Server configuration errors: a bad config file, ACL file, TLS file or environment variable
 * stops `tidemq serve` at startup with a stable `code` and a message naming the file (or
 * variable), the key and what to do. Nothing is written before the whole configuration is valid.
 */
import { readFileSync } from 'node:fs';

export type ServerConfigErrorCode = 'INVALID_CONFIG' | 'INVALID_ACL' | 'INVALID_TLS';

export class ServerConfigError extends Error {
  readonly code: ServerConfigErrorCode;

  constructor(code: ServerConfigErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServerConfigError';
    this.code = code;
  }
}

/** Reads and parses a JSON file; a missing file or bad JSON is a `code` error naming the file. */
export function readJsonFile(file: string, code: ServerConfigErrorCode): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ServerConfigError(code, `${file}: cannot read the file (${reason(err)}).`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ServerConfigError(code, `${file}: not valid JSON (${reason(err)}); fix the syntax.`, {
      cause: err,
    });
  }
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
