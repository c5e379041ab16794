// Renders a run as markdown (latest.md) and one SVG per scenario.
import { isSample, type RunResult, type ScenarioOutcome, type TargetOutcome } from './results.ts';
import { formatNumber, ratio } from './stats.ts';
import { type Panel, barChartSvg } from './svg.ts';

/** Ratio rows printed under each table: each "ours" variant against each reference present. */
const RATIO_ROWS = [['ours-splice', 'go'], ['ours-stream', 'go'], ['ours-splice', 'bare'], ['ours-stream', 'bare']] as const;

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
  for (const [ours, reference] of RATIO_ROWS) {
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

function targetLine(target: TargetOutcome): string {
  const goal = `${target.op === '>=' ? '≥' : '≤'} ${target.goal}× ${target.reference}`;
  const measured = target.ratio === undefined ? 'n/a'
    : `${target.ratio.toFixed(2)}× (${formatNumber(target.oursMedian)} vs ${formatNumber(target.referenceMedian)})`;
  const verdict = target.met === undefined ? 'not measured' : target.met ? 'met' : '**MISSED**';
  return row([target.label, target.variant, goal, measured, verdict]);
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
    `Run finished ${result.date}, ${result.mode} mode: ${result.rounds} rounds, candidates alternating round by round, `
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
    row(['target', 'ours', 'goal', 'measured', 'result']),
    row(['---', '---', '---', '---', '---']),
    ...result.targets.map(targetLine),
    '',
  ];
  for (const scenario of result.scenarios) {
    lines.push(`## ${scenario.title} (\`${scenario.name}\`)`, '', scenario.description, '');
    if (scenario.placeholder !== undefined) {
      lines.push(`**${scenario.placeholder}**`, '');
      continue;
    }
    if (scenario.error !== undefined) lines.push(`**Scenario failed: ${scenario.error}**`, '');
    lines.push(...scenarioTable(scenario), '', `![${scenario.title}](${scenario.name}.svg)`, '');
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
  const subtitle = `median of ${result.rounds} round${result.rounds === 1 ? '' : 's'}, ${result.mode} mode, ${result.date.slice(0, 10)}, `
    + `${String(result.machine.nproc)} CPUs, Linux ${String(result.machine.kernel)}, Node ${String(result.machine.node)}`;
  return barChartSvg(scenario.title, subtitle, panels);
}
