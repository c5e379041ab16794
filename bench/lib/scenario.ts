// The shape every scenario file exports, and what a run records about it.
import type { Candidate, Toolbox } from './candidates.ts';

/** One reported figure of a scenario. */
export interface MetricSpec {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
}

/** One measurement of one candidate in one round: metric key → value. */
export type Sample = Readonly<Record<string, number>>;

/** Run-wide settings a scenario reads. */
export interface RunSettings {
  readonly quick: boolean;
  readonly rounds: number;
  /** Seconds per timed load run (iperf3, wrk, UDP sender). */
  readonly seconds: number;
  readonly tools: Toolbox;
  /** Records something wrong with a candidate (crash, bad exit, failed measurement). */
  problem(candidate: Candidate, what: string): void;
}

/** Backends and proxies of one scenario, alive across its rounds. */
export interface Session {
  /** One measurement; throws if it cannot be taken. */
  measure?(candidate: Candidate, round: number): Promise<Sample>;
  /**
   * For scenarios that observe all candidates at once (same window): one call per round. A
   * candidate's entry may be the error that stopped its measurement, and the others still count.
   */
  measureRound?(candidates: readonly Candidate[], round: number): Promise<Map<Candidate, Sample | { readonly error: string }>>;
  /**
   * For the paired rounds (see PairedRounds): the two candidates loaded side by side, at the same
   * time, so that whatever else the machine does weighs on both alike. Without it, they alternate.
   */
  measurePair?(pair: readonly Candidate[], round: number): Promise<Map<Candidate, Sample | { readonly error: string }>>;
  finish(): Promise<void>;
  /** Lines for the report under the scenario's table (what was extrapolated, what was decided at run time). */
  notes?(): string[];
}

/**
 * Extra rounds, in full mode, for two candidates whose small difference needs more rounds than
 * the comparison with the others: after the scenario's rounds, only these two alternate until
 * each has `factor` times as many. The table's medians stay those of the rounds every candidate
 * ran; the targets between the two use the per-round ratios of all their rounds.
 */
export interface PairedRounds {
  readonly candidates: readonly [Candidate, Candidate];
  readonly factor: number;
}

export interface Scenario {
  readonly name: string;
  readonly title: string;
  /** One paragraph for the report: what is measured, with what load. */
  readonly description: string;
  readonly metrics: readonly MetricSpec[];
  readonly candidates: readonly Candidate[];
  /** Undefined for a scenario that is only a placeholder in the report. */
  readonly prepare?: (settings: RunSettings, candidates: readonly Candidate[]) => Promise<Session>;
  /** Shown instead of figures when `prepare` is undefined. */
  readonly placeholder?: string;
  /** Rounds in --quick mode when fewer than the run's (a long fixed window). */
  readonly quickRounds?: number;
  readonly pairedRounds?: PairedRounds;
  /** Ratio rows under the table (ours, reference), when the usual ones (each ours vs go and bare) do not fit. */
  readonly ratioRows?: ReadonlyArray<readonly [Candidate, Candidate]>;
}
