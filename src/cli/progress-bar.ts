/** A one-line progress bar on stderr (only when stderr is a terminal, else a line every 10%). */
export class ProgressBar {
  private lastDecile = -1;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number, total: number, detail = ''): void {
    const ratio = total > 0 ? Math.min(1, done / total) : 1;
    if (this.stream.isTTY) {
      const width = 30;
      const filled = Math.round(ratio * width);
      this.stream.write(
        `\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(ratio * 100).toFixed(1).padStart(5)}% ${detail}   `,
      );
    } else {
      const decile = Math.floor(ratio * 10);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.stream.write(`${this.label} ${decile * 10}% ${detail}\n`);
      }
    }
  }

  done(detail = ''): void {
    this.update(1, 1, detail);
    if (this.stream.isTTY) this.stream.write('\n');
  }
}
