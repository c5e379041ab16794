// The benchmark runner: puts the tools in place, checks that every candidate echoes correctly,
// then runs each scenario with the candidates alternating round by round, and writes
// results/latest.json, results/latest.md and one SVG chart per scenario.
// Usage: npm run bench [-- --quick] (see lib/options.ts for the flags).
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connMemory } from './conn-memory.ts';
import { httpClose } from './http-close.ts';
import { httpKeepalive } from './http-keepalive.ts';
import { idleWakeups } from './idle-wakeups.ts';
import { type Candidate, OURS_DATA_PATH, type Toolbox, bundleHasDataPathOption, isCandidate } from './lib/candidates.ts';
import { REPO_ROOT, ensureGoProxy, ensureTools } from './lib/deps.ts';
import { gitDescribe, machineInfo } from './lib/machine.ts';
import { type RunOptions, USAGE, parseOptions } from './lib/options.ts';
import { killAll, killChildrenOnExit } from './lib/procs.ts';
import { progress } from './lib/progress.ts';
import { renderMarkdown, renderSvg } from './lib/report.ts';
import type { Problem, RunResult, ScenarioOutcome } from './lib/results.ts';
import { runScenario } from './lib/rounds.ts';
import type { Scenario } from './lib/scenario.ts';
import { evaluateTargets } from './lib/targets.ts';
import { verifyAll } from './lib/verify-all.ts';
import { manyMappings } from './many-mappings.ts';
import { startupMemory } from './startup-memory.ts';
import { tcpBulk } from './tcp-bulk.ts';
import { udpPps } from './udp-pps.ts';

const SCENARIOS: readonly Scenario[] = [
  tcpBulk, httpKeepalive, httpClose, udpPps, startupMemory, idleWakeups, connMemory, manyMappings,
];
const OURS_BUNDLE = join(REPO_ROOT, 'dist', 'docker-proxy.cjs');
const SPLICE_ADDON = join(REPO_ROOT, 'build', 'Release', 'splice.node');

function chosen(options: RunOptions): { scenarios: Scenario[]; candidatesOf: (scenario: Scenario) => Candidate[] } {
  const unknown = options.scenarios?.filter((name) => !SCENARIOS.some((each) => each.name === name)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);
  const scenarios = SCENARIOS.filter((each) => options.scenarios?.includes(each.name) ?? true);
  const candidatesOf = (scenario: Scenario): Candidate[] =>
    scenario.candidates.filter((name) => options.candidates?.includes(name) ?? true);
  return { scenarios, candidatesOf };
}

const NEEDED_TOOLS = ['iperf3', 'wrk', 'nginx', 'socat', 'python3', 'mkfifo'];
const KEPT_RAW_RUNS = 3;

function prepareTools(options: RunOptions, needed: ReadonlySet<Candidate>): { tools: Toolbox; goVersion: string | undefined } {
  ensureTools(NEEDED_TOOLS);
  if (!existsSync(OURS_BUNDLE)) throw new Error(`${OURS_BUNDLE} is missing: run npm run build first`);
  const go = needed.has('go') ? ensureGoProxy() : undefined;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  // Proxy logs of this run, for post-mortems; raw/ is git-ignored.
  const rawDir = join(options.outDir, 'raw');
  const workDir = join(rawDir, stamp);
  mkdirSync(workDir, { recursive: true });
  // Keep the logs of the last few runs only.
  for (const old of readdirSync(rawDir).sort().slice(0, -KEPT_RAW_RUNS)) rmSync(join(rawDir, old), { recursive: true, force: true });
  return {
    tools: { oursBundle: snapshotOurs(workDir), goBinary: go?.path, bareListener: join(REPO_ROOT, 'bench', 'lib', 'bare-listener.cjs'), workDir },
    goVersion: go?.version,
  };
}

/**
 * Copies dist/ and the native addons (same relative layout: the bundle loads
 * ../build/Release/*.node) into the run's directory, so that a rebuild of dist/ during a long
 * run cannot change what is measured halfway through.
 */
function snapshotOurs(workDir: string): string {
  const bundle = join(workDir, 'ours', 'dist', 'docker-proxy.cjs');
  // dist/ is the bundle plus vendor/*.cjs, the vendors it loads only when used.
  cpSync(join(REPO_ROOT, 'dist'), join(workDir, 'ours', 'dist'), { recursive: true });
  const release = dirname(SPLICE_ADDON);
  const addons = existsSync(release) ? readdirSync(release).filter((name) => name.endsWith('.node')) : [];
  if (addons.length > 0) mkdirSync(join(workDir, 'ours', 'build', 'Release'), { recursive: true });
  // Every addon: splice.node, and any other the bundle may load (a UDP one, say).
  for (const name of addons) copyFileSync(join(release, name), join(workDir, 'ours', 'build', 'Release', name));
  return bundle;
}

function sha256Prefix(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 12);
}

function write(options: RunOptions, result: RunResult): void {
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
  const markdown = renderMarkdown(result);
  writeFileSync(join(options.outDir, 'latest.md'), markdown);
  for (const scenario of result.scenarios) {
    if (scenario.placeholder === undefined) writeFileSync(join(options.outDir, `${scenario.name}.svg`), renderSvg(result, scenario));
  }
  process.stdout.write(markdown);
  progress(`wrote ${join(options.outDir, 'latest.md')}, latest.json and the SVGs`);
}

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const options = parsed;
  killChildrenOnExit();
  const started = performance.now();
  const machine = machineInfo();
  const { scenarios, candidatesOf } = chosen(options);
  const needed = new Set(scenarios.flatMap(candidatesOf));
  progress(`${options.quick ? 'quick' : 'full'} run: ${options.rounds} rounds, ${options.seconds} s loads; candidates ${[...needed].join(', ')}`);
  const { tools, goVersion } = prepareTools(options, needed);
  const dataPathOption = bundleHasDataPathOption(tools.oursBundle);
  if (!dataPathOption) progress('note: this build ignores DOCKER_PROXY_DATA_PATH: ours-splice and ours-stream run the same path');

  const dataPaths = await verifyAll([...needed].filter((name) => name !== 'direct'), tools);

  const problems: Problem[] = [];
  for (const [variant, path] of Object.entries(dataPaths)) {
    if (dataPathOption && isCandidate(variant) && path !== OURS_DATA_PATH[variant]) {
      problems.push({ scenario: 'verify', candidate: variant, what: `asked for its data path, it logged dataPath ${path}` });
    }
  }
  const outcomes: ScenarioOutcome[] = [];
  for (const scenario of scenarios) {
    // Again per scenario: on a shared machine a package can vanish in the middle of a run.
    ensureTools(NEEDED_TOOLS);
    const settings = {
      quick: options.quick, rounds: options.rounds, seconds: options.seconds, tools,
      problem: (candidate: Candidate, what: string) => {
        problems.push({ scenario: scenario.name, candidate, what });
        progress(`PROBLEM ${scenario.name} / ${candidate}: ${what}`);
      },
    };
    const outcome = await runScenario(scenario, candidatesOf(scenario), settings);
    if (outcome.error !== undefined) problems.push({ scenario: scenario.name, candidate: 'all', what: `the scenario could not start: ${outcome.error}` });
    outcomes.push(outcome);
  }
  const result: RunResult = {
    date: new Date().toISOString(),
    mode: options.quick ? 'quick' : 'full',
    rounds: options.rounds,
    secondsPerLoad: options.seconds,
    wallSeconds: (performance.now() - started) / 1000,
    machine,
    ours: { commit: gitDescribe(REPO_ROOT), bundleSha256: sha256Prefix(tools.oursBundle), dataPathOption, spliceAddon: existsSync(SPLICE_ADDON), dataPaths },
    go: goVersion === undefined ? undefined : { version: goVersion },
    scenarios: outcomes,
    targets: evaluateTargets(outcomes),
    problems,
  };
  write(options, result);
  return outcomes.some((each) => each.error !== undefined) ? 1 : 0;
}

main().then((code) => {
  killAll();
  process.exitCode = code;
}, (error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  killAll();
  process.exitCode = 1;
});
