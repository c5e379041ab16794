// Runs one scenario: candidates alternate within each round, and the starting candidate
// rotates from round to round, so slow drifts in background load hit every candidate alike.
import type { Candidate } from './candidates.ts';
import { progress } from './progress.ts';
import { type RoundResult, type ScenarioOutcome, failedRound, isSample } from './results.ts';
import type { RunSettings, Scenario } from './scenario.ts';
import { median } from '../../test/helpers/stats.ts';
import { formatNumber } from './format.ts';

function describe(sample: RoundResult): string {
  if (!isSample(sample)) return `FAILED: ${String(sample.error)}`;
  return Object.entries(sample).map(([key, value]) => `${key}=${formatNumber(value)}`).join(' ');
}

function medians(rounds: readonly RoundResult[], keys: readonly string[]): Record<string, number> {
  const result: Record<string, number> = {};
  for (const key of keys) {
    const value = median(rounds.filter(isSample).flatMap((sample) => (key in sample ? [sample[key] ?? Number.NaN] : [])));
    if (value !== undefined) result[key] = value;
  }
  return result;
}

/** Candidates in the order of round `round` (1-based): the first one rotates each round. */
export function rotated<T>(list: readonly T[], round: number): T[] {
  return list.map((_, i) => list[(i + round - 1) % list.length]).filter((each) => each !== undefined);
}

/** The pair that gets extra rounds: in full mode, if both candidates were chosen. */
function pairOf(scenario: Scenario, candidates: readonly Candidate[], settings: RunSettings): readonly Candidate[] {
  const paired = scenario.pairedRounds;
  if (settings.quick || paired === undefined || paired.factor <= 1) return [];
  return paired.candidates.every((name) => candidates.includes(name)) ? paired.candidates : [];
}

export async function runScenario(scenario: Scenario, candidates: readonly Candidate[], settings: RunSettings): Promise<ScenarioOutcome> {
  const total = settings.quick ? Math.min(settings.rounds, scenario.quickRounds ?? settings.rounds) : settings.rounds;
  const base = {
    name: scenario.name, title: scenario.title, description: scenario.description, metrics: scenario.metrics, candidates,
    mainRounds: total, ratioRows: scenario.ratioRows,
  };
  if (scenario.prepare === undefined) return { ...base, rounds: {}, medians: {}, placeholder: scenario.placeholder };
  const rounds: Record<string, RoundResult[]> = Object.fromEntries(candidates.map((name) => [name, []]));
  progress(`${scenario.name}: starting backends and ${candidates.join(', ')}`);
  let session;
  try {
    session = await scenario.prepare(settings, candidates);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    progress(`${scenario.name}: FAILED to start: ${message}`);
    return { ...base, rounds, medians: {}, error: message };
  }
  const pair = pairOf(scenario, candidates, settings);
  const allRounds = pair.length > 0 ? Math.round(total * (scenario.pairedRounds?.factor ?? 1)) : total;
  const record = (candidate: Candidate, round: number, result: RoundResult): void => {
    if (!isSample(result)) settings.problem(candidate, `round ${round} measurement failed: ${result.error}`);
    rounds[candidate]?.push(result);
    progress(`${scenario.name} round ${round}/${allRounds}${round > total ? ' (paired)' : ''} ${candidate}: ${describe(result)}`);
  };
  let notes: string[] | undefined;
  try {
    for (let round = 1; round <= total; round++) {
      if (session.measureRound !== undefined) {
        const samples = await session.measureRound(candidates, round).catch(failedRound);
        for (const candidate of candidates) {
          record(candidate, round, samples instanceof Map ? samples.get(candidate) ?? { error: 'no sample' } : samples);
        }
        continue;
      }
      for (const candidate of rotated(candidates, round)) {
        if (session.measure === undefined) throw new Error(`${scenario.name} has neither measure nor measureRound`);
        record(candidate, round, await session.measure(candidate, round).catch(failedRound));
      }
    }
    if (pair.length > 0) progress(`${scenario.name}: ${allRounds - total} more rounds of ${pair.join(' and ')} only`);
    for (let round = total + 1; round <= allRounds; round++) {
      const together = session.measurePair ?? session.measureRound;
      if (together !== undefined) {
        const samples = await together.call(session, pair, round).catch(failedRound);
        for (const candidate of pair) record(candidate, round, samples instanceof Map ? samples.get(candidate) ?? { error: 'no sample' } : samples);
        continue;
      }
      for (const candidate of rotated(pair, round)) {
        if (session.measure === undefined) break;
        record(candidate, round, await session.measure(candidate, round).catch(failedRound));
      }
    }
    notes = session.notes?.();
  } finally {
    await session.finish();
  }
  const keys = scenario.metrics.map((metric) => metric.key);
  return {
    ...base,
    rounds,
    paired: pair.length > 0 ? { candidates: pair, rounds: allRounds, sideBySide: session.measurePair !== undefined } : undefined,
    // The medians cover the rounds every candidate ran, so that the table compares like with like.
    medians: Object.fromEntries(candidates.map((name) => [name, medians((rounds[name] ?? []).slice(0, total), keys)])),
    notes,
  };
}
