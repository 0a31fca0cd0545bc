/**
 * Progress on stderr. On a terminal: a bar redrawn in place (plain ANSI), with each finished
 * scenario printed above it. Elsewhere (CI logs, tests): one line per finished scenario.
 */
import { duration } from './format.js';

export class Progress {
  private done = 0;
  private current = '';
  private currentStart = 0;
  private currentExpectedMs = 1;
  private readonly start = Date.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly total: number,
    private readonly expectedTotalMs: number,
    private readonly tty: boolean,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  begin(name: string, expectedMs: number): void {
    this.current = name;
    this.currentStart = Date.now();
    this.currentExpectedMs = Math.max(1, expectedMs);
    if (this.tty) {
      this.draw();
      this.timer ??= setInterval(() => this.draw(), 100);
    }
  }

  /** A scenario finished after `runs` runs (--repeat); `summary` is its one-line result. */
  end(summary: string, runs = 1): void {
    this.done += runs;
    const line = `[${String(this.done).padStart(String(this.total).length)}/${this.total}] ${summary}`;
    if (this.tty) {
      this.out.write(`\r\x1b[2K${line}\n`);
      this.draw();
    } else {
      this.out.write(`${line}\n`);
    }
  }

  finish(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.out.write('\r\x1b[2K');
  }

  private draw(): void {
    const within = Math.min(0.99, (Date.now() - this.currentStart) / this.currentExpectedMs);
    const fraction = Math.min(1, (this.done + (this.done < this.total ? within : 0)) / this.total);
    const width = 30;
    const filled = Math.round(fraction * width);
    const elapsed = Date.now() - this.start;
    const eta = fraction > 0.02 ? (elapsed / fraction) * (1 - fraction) : this.expectedTotalMs - elapsed;
    const bar = `\x1b[36m${'█'.repeat(filled)}\x1b[2m${'░'.repeat(width - filled)}\x1b[0m`;
    const cols = this.out.columns ?? 100;
    const text = ` ${String(Math.floor(fraction * 100)).padStart(3)}% ${this.done}/${this.total} ${duration(elapsed)} eta ${duration(eta)}  ${this.current}`;
    this.out.write(`\r\x1b[2K${bar}${text.slice(0, Math.max(10, cols - width - 1))}`);
  }
}
