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
