// What a run produces, as written to latest.json and rendered into latest.md and the SVGs.
import type { MetricSpec, Sample } from './scenario.ts';

/** A failed measurement keeps its place in the round list. */
export type RoundResult = Sample | { readonly error: string };

export interface ScenarioOutcome {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  readonly metrics: readonly MetricSpec[];
  readonly candidates: readonly string[];
  /** candidate → one entry per round, in round order. */
  readonly rounds: Readonly<Record<string, readonly RoundResult[]>>;
  /** candidate → metric key → median over the rounds that produced it. */
  readonly medians: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly placeholder?: string;
  /** Set when the scenario could not run at all. */
  readonly error?: string;
}

export interface TargetOutcome {
  readonly label: string;
  readonly scenario: string;
  readonly metric: string;
  readonly variant: string;
  readonly reference: string;
  readonly op: '>=' | '<=';
  readonly goal: number;
  readonly ratio: number | undefined;
  readonly oursMedian: number | undefined;
  readonly referenceMedian: number | undefined;
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
