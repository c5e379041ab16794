// Histograms whose observations cost a few additions. prom-client's observe() hashes the label
// set on every call (sorted keys, joined strings, a map lookup: ~4 µs), and this proxy observes
// twice per TCP connection, which cost 10 % of the CPU of a new-connection storm. Here each
// mapping owns a Tally (plain numbers in a typed array), and registry.ts hands the samples to
// prom-client only when scraped; the series look exactly as prom-client's own histograms do.
/** One series' observations: a count per bucket (not cumulative; the last is above every bound). */
export class Tally {
  readonly #bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    for (const bound of this.#bounds) {
      if (value <= bound) break;
      i += 1;
    }
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += value;
    this.count += 1;
  }
}

type Labels = Readonly<Record<string, string>>;

/** One exposition sample, in the shape prom-client's registry formats. */
export interface Sample {
  readonly metricName: string;
  /** The sample's own label (le), printed first as prom-client does. */
  readonly labels: Record<string, string | number>;
  /**
   * The series' labels, one object for all its samples: prom-client caches their formatting per
   * object (a WeakMap), and its Histogram.get() merges them into `labels` without changing them.
   */
  readonly sharedLabels: Labels;
  readonly value: number;
}

/** The tallies of one histogram, one per label set. */
export class TallySet {
  readonly #name: string;
  readonly #bounds: readonly number[];
  readonly #tallies = new Map<string, { readonly labels: Labels; readonly tally: Tally }>();

  constructor(name: string, bounds: readonly number[]) {
    this.#name = name;
    this.#bounds = [...bounds];
  }

  /** The tally of the series `key` names (created on first use). */
  tally(key: string, labels: Labels): Tally {
    let entry = this.#tallies.get(key);
    if (entry === undefined) {
      entry = { labels: { ...labels }, tally: new Tally(this.#bounds) };
      this.#tallies.set(key, entry);
    }
    return entry.tally;
  }

  /** Forgets a series, as when its mapping is removed. */
  drop(key: string): void {
    this.#tallies.delete(key);
  }

  /** The _bucket (cumulative), _sum and _count samples, as prom-client's own histograms give them. */
  samples(): Sample[] {
    const samples: Sample[] = [];
    const bucket = `${this.#name}_bucket`;
    for (const { labels, tally } of this.#tallies.values()) {
      if (tally.count === 0) continue; // as prom-client: no series before the first observation
      let cumulative = 0;
      this.#bounds.forEach((bound, i) => {
        cumulative += tally.counts[i] ?? 0;
        samples.push({ metricName: bucket, labels: { le: bound }, sharedLabels: labels, value: cumulative });
      });
      samples.push({ metricName: bucket, labels: { le: '+Inf' }, sharedLabels: labels, value: tally.count });
      samples.push({ metricName: `${this.#name}_sum`, labels: {}, sharedLabels: labels, value: tally.sum });
      samples.push({ metricName: `${this.#name}_count`, labels: {}, sharedLabels: labels, value: tally.count });
    }
    return samples;
  }
}
