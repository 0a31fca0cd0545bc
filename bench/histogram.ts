/** Latency histogram (hdr-histogram-js): values recorded in nanoseconds, reported in microseconds. */
import hdr from 'hdr-histogram-js';
import type { LatencySummary } from './spec.js';

export class LatencyRecorder {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    // one hour in ns: nothing a scenario times can be longer
    highestTrackableValue: 3_600_000_000_000,
    numberOfSignificantValueDigits: 3,
  });

  recordNs(ns: number): void {
    this.histogram.recordValue(Math.max(1, Math.round(ns)));
  }

  /** `count` operations that all took `ns` (e.g. every message of one committed batch). */
  recordNsWithCount(ns: number, count: number): void {
    this.histogram.recordValueWithCount(Math.max(1, Math.round(ns)), count);
  }

  get count(): number {
    return this.histogram.totalCount;
  }

  reset(): void {
    this.histogram.reset();
  }

  summary(unit: string): LatencySummary {
    const h = this.histogram;
    const us = (ns: number) => Math.round(ns) / 1000;
    return {
      unit,
      count: h.totalCount,
      p50Us: us(h.getValueAtPercentile(50)),
      p99Us: us(h.getValueAtPercentile(99)),
      p999Us: us(h.getValueAtPercentile(99.9)),
      maxUs: us(h.maxValue),
      meanUs: us(h.mean),
    };
  }
}

/**
 * A LatencyRecorder for a timed span on the thread being measured (the broker scenarios time each
 * message on the event loop that also runs the broker): recordNs only stores the value in a typed
 * array sized beforehand, and the histogram is built from the values when the figures are read,
 * after the span. Recording into the HDR histogram directly cost that event loop ~0.13 µs a
 * message (a CPU profile of the half-peak window: ~7 % of it at 500 k msg/s), load the pipeline
 * under test did not make.
 */
export class BufferedLatencyRecorder extends LatencyRecorder {
  private values: Float64Array;
  private n = 0;

  /** `expected`: values the span will record (more only cost a copy while recording). */
  constructor(expected: number) {
    super();
    this.values = new Float64Array(Math.max(1024, Math.ceil(expected)));
    // Fault its pages in now, not at the first values of the timed span.
    this.values.fill(1);
  }

  override recordNs(ns: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = ns;
  }

  override recordNsWithCount(ns: number, count: number): void {
    this.settle();
    super.recordNsWithCount(ns, count);
  }

  override get count(): number {
    return super.count + this.n;
  }

  override reset(): void {
    this.n = 0;
    super.reset();
  }

  override summary(unit: string): LatencySummary {
    this.settle();
    return super.summary(unit);
  }

  private settle(): void {
    const values = this.values;
    for (let i = 0; i < this.n; i++) super.recordNs(values[i]!);
    this.n = 0;
  }
}
