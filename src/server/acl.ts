/**
 * The access control list of `tidemq serve --acl <file>`:
 *
 *   { "accounts": [ { "accessKey": "ak", "secretKey": "sk", "publish": ["orders", "logs-*"],
 *                     "subscribe": ["orders"], "groups": ["billing"] },
 *                   { "accessKey": "root", "secretKey": "…", "admin": true } ] }
 *
 * `publish` and `subscribe` list topics, `groups` consumer groups; `*` matches any run of
 * characters, so `"*"` alone allows every name. An admin account may do everything. Names are the
 * broker's: inside a namespace a topic is `<namespace>%<name>` (allow `ns1%*` for all of ns1).
 * The file is checked strictly (unknown keys too, so a misspelt "subscibe" is not silently a
 * deny-all) and any problem is an INVALID_ACL error naming the file and the key.
 */
import { ServerConfigError } from './errors.js';

export interface AclAccountConfig {
  accessKey: string;
  secretKey: string;
  publish?: string[];
  subscribe?: string[];
  groups?: string[];
  admin?: boolean;
}

export interface AclConfig {
  accounts: AclAccountConfig[];
}

/** What a request needs: to publish to a topic, subscribe to a topic, or use a group. */
export type Permission = 'publish' | 'subscribe' | 'groups';

const LISTS: readonly Permission[] = ['publish', 'subscribe', 'groups'];
const ACCOUNT_KEYS = new Set(['accessKey', 'secretKey', 'publish', 'subscribe', 'groups', 'admin']);
const PATTERN_CHARS = /^[%|a-zA-Z0-9_*-]+$/;

export class AclAccount {
  readonly accessKey: string;
  /** HMAC key: the UTF-8 bytes of the secret key. */
  readonly secret: Buffer;
  readonly admin: boolean;
  private readonly allowed: Record<Permission, RegExp[]>;

  constructor(config: AclAccountConfig) {
    this.accessKey = config.accessKey;
    this.secret = Buffer.from(config.secretKey, 'utf8');
    this.admin = config.admin === true;
    this.allowed = {
      publish: (config.publish ?? []).map(compile),
      subscribe: (config.subscribe ?? []).map(compile),
      groups: (config.groups ?? []).map(compile),
    };
  }

  /** Whether this account may use `name` (a broker topic or group name) for `permission`. */
  may(permission: Permission, name: string): boolean {
    return this.admin || this.allowed[permission].some((re) => re.test(name));
  }
}

export class Acl {
  private readonly accounts = new Map<string, AclAccount>();

  private constructor(accounts: AclAccountConfig[]) {
    for (const a of accounts) this.accounts.set(a.accessKey, new AclAccount(a));
  }

  /** Validates `value` (the parsed file or ServerOptions.acl); `source` names it in errors. */
  static from(value: unknown, source: string): Acl {
    return new Acl(checkAcl(value, source));
  }

  account(accessKey: string): AclAccount | undefined {
    return this.accounts.get(accessKey);
  }
}

function compile(pattern: string): RegExp {
  const parts = pattern.split('*').map((p) => p.replace(/[|]/g, '\\|'));
  return new RegExp(`^${parts.join('.*')}$`);
}

function checkAcl(value: unknown, source: string): AclAccountConfig[] {
  const bad = (key: string, problem: string): never => {
    throw new ServerConfigError('INVALID_ACL', `${source}: ${key}: ${problem}`);
  };
  if (!isObject(value)) bad('(top level)', 'expected an object { "accounts": [ … ] }.');
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) if (k !== 'accounts') bad(k, 'unknown key; the only key is "accounts".');
  const accounts = v.accounts;
  if (!Array.isArray(accounts) || accounts.length === 0) {
    bad('accounts', 'expected a non-empty array of accounts (with auth on, no account means no access).');
  }
  const seen = new Set<string>();
  return (accounts as unknown[]).map((a, i) => {
    const at = `accounts[${i}]`;
    if (!isObject(a)) bad(at, 'expected an object with accessKey and secretKey.');
    const acc = a as Record<string, unknown>;
    for (const k of Object.keys(acc)) {
      if (!ACCOUNT_KEYS.has(k)) bad(`${at}.${k}`, `unknown key; use ${[...ACCOUNT_KEYS].join(', ')}.`);
    }
    for (const k of ['accessKey', 'secretKey'] as const) {
      const s = acc[k];
      if (typeof s !== 'string' || s === '' || !/^[\x21-\x7e]+$/.test(s)) {
        bad(`${at}.${k}`, 'expected a non-empty string of printable ASCII without spaces.');
      }
    }
    if (/[,/=]/.test(acc.accessKey as string)) {
      bad(`${at}.accessKey`, 'must not contain ",", "/" or "=" (they delimit the authorization header).');
    }
    if (seen.has(acc.accessKey as string)) bad(`${at}.accessKey`, `${acc.accessKey} appears twice.`);
    seen.add(acc.accessKey as string);
    if (acc.admin !== undefined && typeof acc.admin !== 'boolean')
      bad(`${at}.admin`, 'expected true or false.');
    for (const list of LISTS) {
      const patterns = acc[list];
      if (patterns === undefined) continue;
      if (!Array.isArray(patterns)) bad(`${at}.${list}`, 'expected an array of names or patterns.');
      (patterns as unknown[]).forEach((p, j) => {
        if (typeof p !== 'string' || p.length > 255 || !PATTERN_CHARS.test(p)) {
          bad(
            `${at}.${list}[${j}]`,
            `${JSON.stringify(p)} is not a name or pattern: use characters from [A-Za-z0-9_%|-] and * as a wildcard.`,
          );
        }
      });
    }
    return acc as unknown as AclAccountConfig;
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
