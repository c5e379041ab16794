// The goals the report tracks, as ratios of our proxy to a reference measured in the same run.
import type { ScenarioOutcome, TargetOutcome } from './results.ts';
import { ratio } from './stats.ts';

interface Target {
  readonly label: string;
  readonly scenario: string;
  readonly metric: string;
  readonly reference: 'go' | 'bare';
  readonly op: '>=' | '<=';
  readonly goal: number;
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
];

const VARIANTS = ['ours-splice', 'ours-stream'] as const;

/** Every target for every "ours" variant that ran; a missing figure gives met: undefined. */
export function evaluateTargets(scenarios: readonly ScenarioOutcome[]): TargetOutcome[] {
  const outcomes: TargetOutcome[] = [];
  for (const target of TARGETS) {
    const scenario = scenarios.find((each) => each.name === target.scenario);
    if (scenario === undefined) continue;
    for (const variant of VARIANTS) {
      if (!scenario.candidates.includes(variant)) continue;
      const oursMedian = scenario.medians[variant]?.[target.metric];
      const referenceMedian = scenario.medians[target.reference]?.[target.metric];
      const value = ratio(oursMedian, referenceMedian);
      const met = value === undefined ? undefined : target.op === '>=' ? value >= target.goal : value <= target.goal;
      outcomes.push({ ...target, variant, ratio: value, oursMedian, referenceMedian, met });
    }
  }
  return outcomes;
}
