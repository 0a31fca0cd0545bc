/**
 * TLS for `tidemq serve --tls-cert <file> --tls-key <file>`: PEM certificate chain and private
 * key, checked at startup (both parse, and the key belongs to the certificate) so that a bad
 * pair is an INVALID_TLS error naming the file instead of a handshake failure at the first
 * client. No client certificates are requested: the RocketMQ clients cannot send one.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ServerConfigError } from './errors.js';

export interface TlsOptions {
  /** PEM certificate chain, the server's certificate first. */
  cert: Buffer | string;
  /** PEM private key of that certificate. */
  key: Buffer | string;
  /** Where they came from, for error messages (the CLI passes the file names). */
  certFile?: string;
  keyFile?: string;
}

/** Reads the two PEM files; a missing or unreadable file is an INVALID_TLS error naming it. */
export function readTlsFiles(certFile: string, keyFile: string): TlsOptions {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw invalid(`${file}: cannot read the TLS ${what} (${message(err)}).`, err);
    }
  };
  return { cert: read(certFile, 'certificate'), key: read(keyFile, 'key'), certFile, keyFile };
}

/** gRPC server credentials: TLS when `tls` is given (checked first), plaintext HTTP/2 otherwise. */
export function serverCredentials(tls: TlsOptions | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const certFile = tls.certFile ?? 'ServerOptions.tls.cert';
  const keyFile = tls.keyFile ?? 'ServerOptions.tls.key';
  const cert = Buffer.from(tls.cert);
  const key = Buffer.from(tls.key);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw invalid(`${certFile}: not a PEM X.509 certificate (${message(err)}).`, err);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw invalid(`${keyFile}: not a PEM private key (${message(err)}).`, err);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw invalid(
      `${keyFile}: the private key does not belong to the certificate in ${certFile} (${x509.subject}); pass the matching pair.`,
    );
  }
  return grpc.ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
}

function invalid(msg: string, cause?: unknown): ServerConfigError {
  return new ServerConfigError('INVALID_TLS', msg, cause === undefined ? undefined : { cause });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
