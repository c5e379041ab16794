// The goals the report tracks: ratios of our proxy to a reference measured in the same run, and
// a few absolute limits. Every ratio row also gets the ratios round by round, for their spread.
import type { Candidate } from './candidates.ts';
import { type RoundRatios, type ScenarioOutcome, type TargetOutcome, isSample } from './results.ts';
import { median, ratio } from '../../test/helpers/stats.ts';

interface Target {
  readonly label: string;
  readonly scenario: string;
  readonly metric: string;
  /** Which of ours it applies to; by default both data paths. */
  readonly variants?: readonly Candidate[];
  /** Divide by this candidate's figure; undefined for an absolute goal in `unit`. */
  readonly reference?: Candidate;
  readonly unit?: string;
  readonly op: '>=' | '<=';
  readonly goal: number;
  /**
   * Judge by the median of the per-round ratios: for two variants of ours measured back to back in
   * every round, where pairing cancels the drift of the shared machine between rounds.
   */
  readonly paired?: boolean;
}

const METRICS_ON: readonly Candidate[] = ['ours-metrics'];
const MANY: readonly Candidate[] = ['ours-many'];

/** Metrics on vs off: rates within 3 % (≥ 0.97), CPU per unit at most 3 % more (≤ 1.03). */
function metricsOverhead(label: string, scenario: string, metric: string, better: 'higher' | 'lower'): Target {
  return { label: `metrics on / metrics off: ${label}`, scenario, metric, variants: METRICS_ON, reference: 'ours-splice',
    op: better === 'higher' ? '>=' : '<=', goal: better === 'higher' ? 0.97 : 1.03, paired: true };
}

/** One process with 1010 mappings vs one with one: forwarding within 5 %. */
function manyVsOne(label: string, metric: string, better: 'higher' | 'lower'): Target {
  return { label: `1010 mappings / 1 mapping: ${label}`, scenario: 'many-mappings', metric, variants: MANY, reference: 'ours-splice',
    op: better === 'higher' ? '>=' : '<=', goal: better === 'higher' ? 0.95 : 1.05, paired: true };
}

export const TARGETS: readonly Target[] = [
  { label: 'TCP bulk throughput, 1 stream', scenario: 'tcp-bulk', metric: 'gbps_p1', reference: 'go', op: '>=', goal: 1.1 },
  { label: 'TCP bulk throughput, 8 streams', scenario: 'tcp-bulk', metric: 'gbps_p8', reference: 'go', op: '>=', goal: 1.1 },
  { label: 'CPU per GiB, 1 stream', scenario: 'tcp-bulk', metric: 'cpu_per_gib_p1', reference: 'go', op: '<=', goal: 0.6 },
  { label: 'CPU per GiB, 8 streams', scenario: 'tcp-bulk', metric: 'cpu_per_gib_p8', reference: 'go', op: '<=', goal: 0.6 },
  { label: 'HTTP keep-alive requests/s', scenario: 'http-keepalive', metric: 'rps', reference: 'go', op: '>=', goal: 1.3 },
  { label: 'new connections/s', scenario: 'http-close', metric: 'conn_per_s', reference: 'go', op: '>=', goal: 1.2 },
  { label: 'UDP packets/s, 64 B', scenario: 'udp-pps', metric: 'pps_64', reference: 'go', op: '>=', goal: 1.5 },
  { label: 'UDP packets/s, 1400 B', scenario: 'udp-pps', metric: 'pps_1400', reference: 'go', op: '>=', goal: 1.5 },
  { label: 'memory per proxied connection (PSS)', scenario: 'conn-memory', metric: 'kib_per_conn', reference: 'go', op: '<=', goal: 1.0 },
  // Not one of the brief's targets: the same goal with kernel memory (pipes, sockets) counted too.
  { label: 'memory per proxied connection (PSS + kernel, system-wide)', scenario: 'conn-memory', metric: 'total_kib_per_conn', reference: 'go', op: '<=', goal: 1.0 },
  { label: 'start-up time vs bare Node listener', scenario: 'startup-memory', metric: 'startup_ms', reference: 'bare', op: '<=', goal: 1.25 },
  { label: 'idle PSS vs bare Node listener', scenario: 'startup-memory', metric: 'pss_mib', reference: 'bare', op: '<=', goal: 1.5 },
  metricsOverhead('TCP throughput, 1 stream', 'tcp-bulk', 'gbps_p1', 'higher'),
  metricsOverhead('TCP throughput, 8 streams', 'tcp-bulk', 'gbps_p8', 'higher'),
  metricsOverhead('CPU per GiB, 1 stream', 'tcp-bulk', 'cpu_per_gib_p1', 'lower'),
  metricsOverhead('CPU per GiB, 8 streams', 'tcp-bulk', 'cpu_per_gib_p8', 'lower'),
  metricsOverhead('keep-alive requests/s', 'http-keepalive', 'rps', 'higher'),
  metricsOverhead('CPU per keep-alive request', 'http-keepalive', 'cpu_us_per_req', 'lower'),
  metricsOverhead('new connections/s', 'http-close', 'conn_per_s', 'higher'),
  metricsOverhead('CPU per new connection', 'http-close', 'cpu_us_per_req', 'lower'),
  metricsOverhead('UDP packets/s, 64 B', 'udp-pps', 'pps_64', 'higher'),
  metricsOverhead('UDP packets/s, 1400 B', 'udp-pps', 'pps_1400', 'higher'),
  metricsOverhead('CPU per UDP packet, 64 B', 'udp-pps', 'cpu_us_per_pkt_64', 'lower'),
  metricsOverhead('CPU per UDP packet, 1400 B', 'udp-pps', 'cpu_us_per_pkt_1400', 'lower'),
  { label: '1010 mappings in one process: PSS once ready', scenario: 'many-mappings', metric: 'pss_ready_mib', variants: MANY, unit: 'MiB', op: '<=', goal: 50 },
  { label: '1010 mappings in one process: PSS after traffic', scenario: 'many-mappings', metric: 'pss_after_mib', variants: MANY, unit: 'MiB', op: '<=', goal: 50 },
  manyVsOne('TCP throughput, 1 stream', 'gbps_p1', 'higher'),
  manyVsOne('TCP throughput, 8 streams', 'gbps_p8', 'higher'),
  manyVsOne('CPU per GiB, 1 stream', 'cpu_per_gib_p1', 'lower'),
  manyVsOne('CPU per GiB, 8 streams', 'cpu_per_gib_p8', 'lower'),
  manyVsOne('keep-alive requests/s', 'rps', 'higher'),
];

const DEFAULT_VARIANTS: readonly Candidate[] = ['ours-splice', 'ours-stream'];
/** P(Binomial(n, 1/2) ≤ k). */
function binomialCdf(n: number, k: number): number {
  let term = 0.5 ** n;
  let sum = term;
  for (let i = 1; i <= k; i++) {
    term *= (n - i + 1) / i;
    sum += term;
  }
  return sum;
}

/**
 * The distribution-free 95 % confidence interval of a median: order statistics k and n+1−k with
 * the largest k for which P(Binomial(n, ½) < k) ≤ 2.5 %. Needs 6 values at least.
 */
export function medianCi95(values: readonly number[]): [number, number] | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  let k = 0;
  while (k + 1 <= sorted.length / 2 && binomialCdf(sorted.length, k) <= 0.025) k += 1;
  const low = sorted[k - 1];
  const high = sorted[sorted.length - k];
  return k === 0 || low === undefined || high === undefined ? undefined : [low, high];
}

/**
 * variant / reference, round by round, over the rounds where both produced the figure. When the
 * two are a pair whose extra rounds ran side by side, only those count: the same time window
 * for both is a cleaner comparison than rounds taken one after the other.
 */
export function roundRatios(scenario: ScenarioOutcome, variant: string, reference: string, metric: string): RoundRatios | undefined {
  const ours = scenario.rounds[variant] ?? [];
  const theirs = scenario.rounds[reference] ?? [];
  const paired = scenario.paired;
  const sideBySide = paired?.sideBySide === true && paired.candidates.includes(variant) && paired.candidates.includes(reference);
  const ratios: number[] = [];
  for (let i = sideBySide ? scenario.mainRounds : 0; i < Math.min(ours.length, theirs.length); i++) {
    const a = ours[i];
    const b = theirs[i];
    if (a === undefined || b === undefined || !isSample(a) || !isSample(b)) continue;
    const value = ratio(a[metric], b[metric]);
    if (value !== undefined && Number.isFinite(value)) ratios.push(value);
  }
  const middle = median(ratios);
  if (middle === undefined) return undefined;
  return { count: ratios.length, median: middle, min: Math.min(...ratios), max: Math.max(...ratios), ci95: medianCi95(ratios) };
}

function judge(value: number | undefined, op: '>=' | '<=', goal: number): boolean | undefined {
  return value === undefined ? undefined : op === '>=' ? value >= goal : value <= goal;
}

/** Every target for every variant of ours that ran; a missing figure gives met: undefined. */
export function evaluateTargets(scenarios: readonly ScenarioOutcome[]): TargetOutcome[] {
  const outcomes: TargetOutcome[] = [];
  for (const target of TARGETS) {
    const scenario = scenarios.find((each) => each.name === target.scenario);
    if (scenario === undefined || scenario.placeholder !== undefined) continue;
    for (const variant of target.variants ?? DEFAULT_VARIANTS) {
      if (!scenario.candidates.includes(variant)) continue;
      const oursMedian = scenario.medians[variant]?.[target.metric];
      const common = { label: target.label, scenario: target.scenario, metric: target.metric, variant, op: target.op, goal: target.goal, oursMedian };
      const reference = target.reference;
      if (reference === undefined) {
        outcomes.push({ ...common, reference: undefined, unit: target.unit, basis: 'absolute', ratio: undefined,
          referenceMedian: undefined, roundRatios: undefined, met: judge(oursMedian, target.op, target.goal) });
        continue;
      }
      if (!scenario.candidates.includes(reference)) continue;
      const referenceMedian = scenario.medians[reference]?.[target.metric];
      const rounds = roundRatios(scenario, variant, reference, target.metric);
      const value = target.paired === true ? rounds?.median : ratio(oursMedian, referenceMedian);
      outcomes.push({
        ...common, reference, basis: target.paired === true ? 'paired' : 'medians', ratio: value, referenceMedian,
        roundRatios: rounds, tolerance: target.paired === true ? Math.abs(1 - target.goal) : undefined,
        met: judge(value, target.op, target.goal),
      });
    }
  }
  return outcomes;
}
