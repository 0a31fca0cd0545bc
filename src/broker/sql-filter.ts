/**
 * SQL92 property filters (RocketMQ's `filterType: SQL92`), a small safe subset:
 *
 *   expr  := or
 *   or    := and (OR and)*
 *   and   := not (AND not)*
 *   not   := NOT not | cmp
 *   cmp   := value [ (= | <> | < | > | <= | >=) value
 *                  | IS [NOT] NULL
 *                  | [NOT] BETWEEN value AND value
 *                  | [NOT] IN ( literal {, literal} ) ]
 *   value := ( expr ) | property name | 'string' | number | TRUE | FALSE
 *
 * Keywords are case-insensitive; property names are [A-Za-z_][A-Za-z0-9_.]* (a message's user
 * properties, plus TAGS and KEYS as RocketMQ exposes them). Evaluation is three-valued as in SQL:
 * a comparison with a missing property is UNKNOWN, and a message matches only if the whole
 * expression is TRUE. < > <= >= and BETWEEN compare numbers (a property that does not read as
 * a number makes them UNKNOWN); = and <> compare numbers when both sides are numeric, else text.
 *
 * The parser is a recursive descent with a length and nesting limit, compiled once into a
 * closure; evaluation never throws and never runs user code.
 */
import { BrokerError } from './errors.js';

export type SqlPredicate = (props: Record<string, string>) => boolean;

const MAX_LENGTH = 4096;
const MAX_DEPTH = 64;

type Tri = boolean | null;
type Value = string | number | boolean | null;
type Expr = (p: Record<string, string>) => Value;

interface Token {
  kind: 'id' | 'str' | 'num' | 'op' | 'kw' | 'end';
  text: string;
  pos: number;
}

const KEYWORDS: ReadonlySet<string> = new Set([
  'AND',
  'OR',
  'NOT',
  'IS',
  'NULL',
  'IN',
  'BETWEEN',
  'TRUE',
  'FALSE',
]);

function fail(expression: string, pos: number, what: string): never {
  throw new BrokerError(
    'ILLEGAL_FILTER_EXPRESSION',
    `SQL92 filter ${JSON.stringify(expression)}: ${what} at position ${pos}.`,
  );
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < src.length && /[A-Za-z0-9_.]/.test(src[i]!)) i++;
      const word = src.slice(start, i);
      const upper = word.toUpperCase();
      out.push(
        KEYWORDS.has(upper)
          ? { kind: 'kw', text: upper, pos: start }
          : { kind: 'id', text: word, pos: start },
      );
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      i++;
      while (i < src.length && /[0-9]/.test(src[i]!)) i++;
      if (src[i] === '.' && /[0-9]/.test(src[i + 1] ?? '')) {
        i++;
        while (i < src.length && /[0-9]/.test(src[i]!)) i++;
      }
      out.push({ kind: 'num', text: src.slice(start, i), pos: start });
    } else if (c === "'") {
      let text = '';
      i++;
      for (;;) {
        if (i >= src.length) fail(src, start, 'unterminated string');
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            text += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += src[i];
        i++;
      }
      out.push({ kind: 'str', text, pos: start });
    } else {
      const two = src.slice(i, i + 2);
      if (two === '<>' || two === '<=' || two === '>=') {
        out.push({ kind: 'op', text: two, pos: start });
        i += 2;
      } else if ('=<>(),'.includes(c)) {
        out.push({ kind: 'op', text: c, pos: start });
        i++;
      } else fail(src, start, `unexpected character ${JSON.stringify(c)}`);
    }
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

function toNumber(v: Value): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function truth(v: Value): Tri {
  if (v === null) return null;
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return null;
}

function equal(a: Value, b: Value): Tri {
  if (a === null || b === null) return null;
  if (typeof a === 'number' || typeof b === 'number') {
    const x = toNumber(a);
    const y = toNumber(b);
    return x === null || y === null ? null : x === y;
  }
  return String(a) === String(b);
}

function order(a: Value, b: Value, op: string): Tri {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x === null || y === null) return null;
  if (op === '<') return x < y;
  if (op === '>') return x > y;
  if (op === '<=') return x <= y;
  return x >= y;
}

function not(t: Tri): Tri {
  return t === null ? null : !t;
}

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly src: string,
    private readonly tokens: Token[],
  ) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private next(): Token {
    return this.tokens[this.i++]!;
  }
  private isKw(word: string): boolean {
    const t = this.peek();
    return t.kind === 'kw' && t.text === word;
  }
  private isOp(op: string): boolean {
    const t = this.peek();
    return t.kind === 'op' && t.text === op;
  }
  private expectKw(word: string): void {
    if (!this.isKw(word)) fail(this.src, this.peek().pos, `expected ${word}`);
    this.i++;
  }
  private expectOp(op: string): void {
    if (!this.isOp(op)) fail(this.src, this.peek().pos, `expected '${op}'`);
    this.i++;
  }

  parse(): Expr {
    const e = this.or();
    if (this.peek().kind !== 'end') fail(this.src, this.peek().pos, `unexpected ${this.peek().text}`);
    return e;
  }

  private or(): Expr {
    if (++this.depth > MAX_DEPTH) fail(this.src, this.peek().pos, 'nested too deeply');
    let left = this.and();
    while (this.isKw('OR')) {
      this.i++;
      const a = left;
      const b = this.and();
      left = (p) => {
        const x = truth(a(p));
        if (x === true) return true;
        const y = truth(b(p));
        return y === true ? true : x === null || y === null ? null : false;
      };
    }
    this.depth--;
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isKw('AND')) {
      this.i++;
      const a = left;
      const b = this.not();
      left = (p) => {
        const x = truth(a(p));
        if (x === false) return false;
        const y = truth(b(p));
        return y === false ? false : x === null || y === null ? null : true;
      };
    }
    return left;
  }

  private not(): Expr {
    if (this.isKw('NOT')) {
      this.i++;
      if (++this.depth > MAX_DEPTH) fail(this.src, this.peek().pos, 'nested too deeply');
      const e = this.not();
      this.depth--;
      return (p) => not(truth(e(p)));
    }
    return this.comparison();
  }

  private comparison(): Expr {
    const left = this.value();
    const t = this.peek();
    if (t.kind === 'op' && ['=', '<>', '<', '>', '<=', '>='].includes(t.text)) {
      this.i++;
      const right = this.value();
      const op = t.text;
      if (op === '=') return (p) => equal(left(p), right(p));
      if (op === '<>') return (p) => not(equal(left(p), right(p)));
      return (p) => order(left(p), right(p), op);
    }
    if (this.isKw('IS')) {
      this.i++;
      const negated = this.isKw('NOT');
      if (negated) this.i++;
      this.expectKw('NULL');
      return negated ? (p) => left(p) !== null : (p) => left(p) === null;
    }
    let negated = false;
    if (this.isKw('NOT')) {
      negated = true;
      this.i++;
      if (!this.isKw('BETWEEN') && !this.isKw('IN'))
        fail(this.src, this.peek().pos, 'expected BETWEEN or IN after NOT');
    }
    if (this.isKw('BETWEEN')) {
      this.i++;
      const lo = this.value();
      this.expectKw('AND');
      const hi = this.value();
      const between = (p: Record<string, string>): Tri => {
        const v = left(p);
        const a = order(v, lo(p), '>=');
        const b = order(v, hi(p), '<=');
        return a === false || b === false ? false : a === null || b === null ? null : true;
      };
      return negated ? (p) => not(between(p)) : between;
    }
    if (this.isKw('IN')) {
      this.i++;
      this.expectOp('(');
      const items: Value[] = [this.literal()];
      while (this.isOp(',')) {
        this.i++;
        items.push(this.literal());
      }
      this.expectOp(')');
      const within = (p: Record<string, string>): Tri => {
        const v = left(p);
        if (v === null) return null;
        for (const item of items) if (equal(v, item) === true) return true;
        return false;
      };
      return negated ? (p) => not(within(p)) : within;
    }
    return left;
  }

  private literal(): Value {
    const t = this.next();
    if (t.kind === 'str') return t.text;
    if (t.kind === 'num') return Number(t.text);
    if (t.kind === 'kw' && (t.text === 'TRUE' || t.text === 'FALSE')) return t.text === 'TRUE';
    return fail(this.src, t.pos, 'expected a string or number literal');
  }

  private value(): Expr {
    const t = this.peek();
    if (this.isOp('(')) {
      this.i++;
      const e = this.or();
      this.expectOp(')');
      return e;
    }
    if (t.kind === 'id') {
      this.i++;
      const name = t.text;
      return (p) => p[name] ?? null;
    }
    if (
      t.kind === 'str' ||
      t.kind === 'num' ||
      (t.kind === 'kw' && (t.text === 'TRUE' || t.text === 'FALSE'))
    ) {
      const v = this.literal();
      return () => v;
    }
    return fail(this.src, t.pos, t.kind === 'end' ? 'unexpected end' : `unexpected ${t.text}`);
  }
}

/** Compile a SQL92 filter; throws ILLEGAL_FILTER_EXPRESSION (with the position) if it is not valid. */
export function compileSqlFilter(expression: string): SqlPredicate {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new BrokerError('ILLEGAL_FILTER_EXPRESSION', 'a SQL92 filter needs an expression.');
  }
  if (expression.length > MAX_LENGTH) {
    throw new BrokerError(
      'ILLEGAL_FILTER_EXPRESSION',
      `a SQL92 filter may have at most ${MAX_LENGTH} characters.`,
    );
  }
  const e = new Parser(expression, tokenize(expression)).parse();
  return (props) => truth(e(props)) === true;
}
