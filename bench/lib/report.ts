// Renders a run as markdown (latest.md) and one SVG per scenario.
import { isSample, type RunResult, type ScenarioOutcome, type TargetOutcome } from './results.ts';
import { type Panel, barChartSvg } from './svg.ts';
import { ratio } from '../../test/helpers/stats.ts';
import { formatNumber } from './format.ts';

/** Ratio rows printed under each table: each "ours" variant against each reference present. */
const RATIO_ROWS = [
  ['ours-splice', 'go'], ['ours-stream', 'go'], ['ours-splice', 'bare'], ['ours-stream', 'bare'],
  ['ours-metrics', 'ours-splice'], ['ours-many', 'ours-splice'],
] as const;

function row(cells: readonly string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function roundsDone(scenario: ScenarioOutcome, candidate: string): string {
  const rounds = scenario.rounds[candidate] ?? [];
  return `${rounds.filter(isSample).length}/${rounds.length}`;
}

function scenarioTable(scenario: ScenarioOutcome): string[] {
  const header = ['candidate', ...scenario.metrics.map((metric) => `${metric.label} (${metric.unit})`), 'rounds ok'];
  const lines = [row(header), row(header.map(() => '---'))];
  for (const candidate of scenario.candidates) {
    const medians = scenario.medians[candidate] ?? {};
    lines.push(row([candidate, ...scenario.metrics.map((metric) => formatNumber(medians[metric.key])), roundsDone(scenario, candidate)]));
  }
  for (const [ours, reference] of scenario.ratioRows ?? RATIO_ROWS) {
    if (!scenario.candidates.includes(ours) || !scenario.candidates.includes(reference)) continue;
    const cells = scenario.metrics.map((metric) => {
      const value = ratio(scenario.medians[ours]?.[metric.key], scenario.medians[reference]?.[metric.key]);
      return value === undefined ? 'n/a' : `${value.toFixed(2)}×`;
    });
    if (cells.every((cell) => cell === 'n/a')) continue;
    lines.push(row([`*${ours} / ${reference}*`, ...cells, '']));
  }
  return lines;
}

function roundsLine(scenario: ScenarioOutcome): string {
  const paired = scenario.paired;
  const all = `${scenario.mainRounds} round${scenario.mainRounds === 1 ? '' : 's'} of every candidate`;
  return paired === undefined ? `Rounds: ${all}.`
    : `Rounds: ${all}, then ${paired.rounds - scenario.mainRounds} more of ${paired.candidates.join(' and ')} only, `
      + `${paired.sideBySide === true ? 'side by side (both loaded at the same time, each by its own load generator)' : 'alternating'} `
      + `(${paired.rounds} in all): the table's figures are medians of the first ${scenario.mainRounds}; the targets between `
      + `those two use the per-round ratios of ${paired.sideBySide === true ? 'the side-by-side rounds only' : 'all their rounds'}.`;
}

/** Ratios to 3 decimals when the goal is a few per cent, else 2. */
function ratioText(value: number, fine: boolean): string {
  return value.toFixed(fine ? 3 : 2);
}

/** Per-round ratios: min–max, and for a goal with a tolerance, how the spread compares with it. */
function spreadCell(target: TargetOutcome): string {
  const rounds = target.roundRatios;
  if (rounds === undefined) return target.basis === 'absolute' ? '' : 'n/a';
  const fine = target.tolerance !== undefined;
  let text = `${ratioText(rounds.min, fine)}–${ratioText(rounds.max, fine)} (${rounds.count} round${rounds.count === 1 ? '' : 's'}`;
  if (fine && rounds.ci95 !== undefined) text += `; median's 95 % CI ${ratioText(rounds.ci95[0], fine)}–${ratioText(rounds.ci95[1], fine)}`;
  text += ')';
  if (target.tolerance !== undefined && rounds.max - rounds.min > target.tolerance) {
    text += `, spread ${((rounds.max - rounds.min) * 100).toFixed(1)} % > ${Math.round(target.tolerance * 100)} %`;
  }
  return text;
}

function verdictCell(target: TargetOutcome): string {
  if (target.met === undefined) return 'not measured';
  const verdict = target.met ? 'met' : '**MISSED**';
  if (target.basis !== 'paired') return verdict;
  const ci = target.roundRatios?.ci95;
  if (ci === undefined) return `${verdict} (too few rounds to be sure)`;
  const straddles = ci[0] < target.goal && ci[1] > target.goal;
  return straddles ? `${verdict} (not resolved: the CI spans the goal)` : verdict;
}

function targetLine(target: TargetOutcome): string {
  const op = target.op === '>=' ? '≥' : '≤';
  const fine = target.tolerance !== undefined;
  if (target.reference === undefined) {
    const unit = target.unit ?? '';
    return row([target.label, target.variant, `${op} ${target.goal} ${unit}`,
      target.oursMedian === undefined ? 'n/a' : `${formatNumber(target.oursMedian)} ${unit}`, '', verdictCell(target)]);
  }
  const goal = `${op} ${target.goal}× ${target.reference}`;
  const medians = `${formatNumber(target.oursMedian)} vs ${formatNumber(target.referenceMedian)}`;
  const measured = target.ratio === undefined ? 'n/a'
    : target.basis === 'paired' ? `${ratioText(target.ratio, fine)}× (median of the per-round ratios; medians ${medians})`
      : `${ratioText(target.ratio, fine)}× (${medians})`;
  return row([target.label, target.variant, goal, measured, spreadCell(target), verdictCell(target)]);
}

/** Says whether the paired targets' rounds spread wider than their goal's tolerance, and which stay unresolved. */
function spreadSummary(targets: readonly TargetOutcome[]): string[] {
  const paired = targets.filter((target) => target.tolerance !== undefined && target.roundRatios !== undefined);
  const wide = paired.filter((target) => (target.roundRatios?.max ?? 0) - (target.roundRatios?.min ?? 0) > (target.tolerance ?? 0));
  if (wide.length === 0) return [];
  const unresolved = paired.filter((target) => {
    const ci = target.roundRatios?.ci95;
    return ci === undefined || (ci[0] < target.goal && ci[1] > target.goal);
  });
  return [
    `**Spread:** in ${wide.length} of the ${paired.length} paired rows the per-round ratios spread wider than the tolerance of `
      + 'the goal (3 % for metrics on / off, 5 % for 1010 mappings / 1 mapping): no single round can show a difference that '
      + 'small, and the verdict rests on the median over the rounds. '
      + (unresolved.length === 0 ? 'In every paired row the 95 % confidence interval of that median lies on one side of the goal.'
        : `In ${unresolved.length} of the ${paired.length} the 95 % confidence interval of the median spans the goal, or there were `
          + 'too few rounds for one (marked in the result column): at this noise, those verdicts are not resolved.'),
    '',
  ];
}

function machineLine(result: RunResult): string {
  const machine = Object.entries(result.machine).map(([key, value]) => `${key} ${String(value)}`).join(', ');
  return `Machine: ${machine}.`;
}

/** The full markdown report. */
export function renderMarkdown(result: RunResult): string {
  const lines = [
    '# docker-proxy benchmark results',
    '',
    `Run finished ${result.date}, ${result.mode} mode: ${result.rounds} rounds (unless a scenario says otherwise), candidates alternating round by round, `
      + `${result.secondsPerLoad} s per load run; wall time ${Math.round(result.wallSeconds)} s. `
      + 'Figures are medians over the rounds; ratios compare medians from this same run.',
    '',
    machineLine(result),
    '',
    `Ours: commit ${result.ours.commit}, bundle sha256 ${result.ours.bundleSha256}; splice addon ${result.ours.spliceAddon ? 'built' : 'NOT built'}; `
      + (result.ours.dataPathOption
        ? 'DOCKER_PROXY_DATA_PATH supported, so ours-splice and ours-stream are different data paths'
        : '**DOCKER_PROXY_DATA_PATH not in this build: ours-splice and ours-stream ran the same data path** (figures predate the option)')
      + `; data path each logged: ${Object.entries(result.ours.dataPaths).map(([variant, path]) => `${variant} → ${path}`).join(', ') || 'n/a'}.`,
    `Go: ${result.go?.version ?? 'not run'}.`,
    '',
    '## Targets (ours / reference)',
    '',
    'Ratios are of medians, except the rows judged on the median of the per-round ratios (two variants of ours measured '
      + 'back to back in every round). The per-round column gives the min–max of the ratio round by round.',
    '',
    row(['target', 'ours', 'goal', 'measured', 'per-round ratios', 'result']),
    row(['---', '---', '---', '---', '---', '---']),
    ...result.targets.map(targetLine),
    '',
    ...spreadSummary(result.targets),
  ];
  for (const scenario of result.scenarios) {
    lines.push(`## ${scenario.title} (\`${scenario.name}\`)`, '', scenario.description, '');
    if (scenario.placeholder !== undefined) {
      lines.push(`**${scenario.placeholder}**`, '');
      continue;
    }
    if (scenario.error !== undefined) lines.push(`**Scenario failed: ${scenario.error}**`, '');
    lines.push(roundsLine(scenario), '', ...scenarioTable(scenario), '');
    for (const note of scenario.notes ?? []) lines.push(`- ${note}`);
    if ((scenario.notes ?? []).length > 0) lines.push('');
    lines.push(`![${scenario.title}](${scenario.name}.svg)`, '');
  }
  lines.push('## Problems seen', '');
  if (result.problems.length === 0) lines.push('None: no crash, unexpected exit, failed measurement or fd leak.');
  for (const problem of result.problems) lines.push(`- ${problem.scenario} / ${problem.candidate}: ${problem.what}`);
  lines.push('');
  return lines.join('\n');
}

/** The chart of one scenario: one panel per metric, one bar per candidate (medians). */
export function renderSvg(result: RunResult, scenario: ScenarioOutcome): string {
  const panels: Panel[] = scenario.metrics.map((metric) => ({
    label: metric.label,
    unit: metric.unit,
    better: metric.better,
    bars: scenario.candidates.map((name) => ({ name, value: scenario.medians[name]?.[metric.key] })),
  }));
  const subtitle = `median of ${scenario.mainRounds} round${scenario.mainRounds === 1 ? '' : 's'}, ${result.mode} mode, ${result.date.slice(0, 10)}, `
    + `${String(result.machine.nproc)} CPUs, Linux ${String(result.machine.kernel)}, Node ${String(result.machine.node)}`;
  return barChartSvg(scenario.title, subtitle, panels);
}
