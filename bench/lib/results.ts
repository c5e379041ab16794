// What a run produces, as written to latest.json and rendered into latest.md and the SVGs.
import type { MetricSpec, Sample } from './scenario.ts';

/** A failed measurement keeps its place in the round list. */
export type RoundResult = Sample | { readonly error: string };

/** The round entry of a measurement that threw. */
export function failedRound(error: unknown): { readonly error: string } {
  return { error: error instanceof Error ? error.message : String(error) };
}

export interface ScenarioOutcome {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly metrics: readonly MetricSpec[];
  readonly candidates: readonly string[];
  /** candidate → one entry per round, in round order; the paired candidates' extra rounds follow the others. */
  readonly rounds: Readonly<Record<string, readonly RoundResult[]>>;
  /** Rounds every candidate ran (the first entries of each list); the medians cover these. */
  readonly mainRounds: number;
  /**
   * Candidates that ran extra rounds, how many rounds they have in all, and whether those extra
   * rounds loaded the two side by side (at the same time) rather than one after the other.
   */
  readonly paired?: { readonly candidates: readonly string[]; readonly rounds: number; readonly sideBySide?: boolean };
  /** candidate → metric key → median over the main rounds that produced it. */
  readonly medians: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Ratio rows under the table, when the scenario names its own. */
  readonly ratioRows?: ReadonlyArray<readonly [string, string]>;
  /** Run-time notes of the scenario, shown under its table. */
  readonly notes?: readonly string[];
  readonly placeholder?: string;
  /** Set when the scenario could not run at all. */
  readonly error?: string;
}

/** Ratios of one candidate to another, round by round (rounds where both have the figure). */
export interface RoundRatios {
  readonly count: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** Distribution-free 95 % confidence interval of the median (order statistics); from 6 rounds on. */
  readonly ci95: readonly [number, number] | undefined;
}

export interface TargetOutcome {
  readonly label: string;
  readonly scenario: string;
  readonly metric: string;
  readonly variant: string;
  /** The candidate divided by, or undefined for an absolute goal (`goal` in `unit`). */
  readonly reference: string | undefined;
  readonly unit?: string;
  readonly op: '>=' | '<=';
  readonly goal: number;
  /** paired: the verdict uses the median of the per-round ratios, not the ratio of the medians. */
  readonly basis: 'medians' | 'paired' | 'absolute';
  readonly ratio: number | undefined;
  readonly oursMedian: number | undefined;
  readonly referenceMedian: number | undefined;
  readonly roundRatios: RoundRatios | undefined;
  /** The tolerance the goal allows (|1 − goal|), when the spread of the rounds should be compared with it. */
  readonly tolerance?: number;
  readonly met: boolean | undefined;
}

export interface Problem {
  readonly scenario: string;
  readonly candidate: string;
  readonly what: string;
}

export interface RunResult {
  readonly date: string;
  readonly mode: 'quick' | 'full';
  readonly rounds: number;
  readonly secondsPerLoad: number;
  readonly wallSeconds: number;
  readonly machine: Readonly<Record<string, string | number>>;
  readonly ours: {
    readonly commit: string;
    /** First 12 hex digits of the SHA-256 of the bundle that was measured (a copy taken at the start). */
    readonly bundleSha256: string;
    readonly dataPathOption: boolean;
    readonly spliceAddon: boolean;
    /** Variant → the TCP data path its start-up log line names. */
    readonly dataPaths: Readonly<Record<string, string>>;
  };
  readonly go: { readonly version: string } | undefined;
  readonly scenarios: readonly ScenarioOutcome[];
  readonly targets: readonly TargetOutcome[];
  readonly problems: readonly Problem[];
}

export function isSample(result: RoundResult): result is Sample {
  return !('error' in result && typeof result.error === 'string');
}
