// Fault 10, bad input through the command line and the environment. A seeded grammar (grammar.ts)
// mixes valid flags, Go syntax variants, garbage, huge values, unicode, empty strings,
// -use-listen-fd without fd 4 and bad DOCKER_PROXY_* values.
//  - In process, parseCommandLine (src/cli/command-line.ts) must never throw: it returns one of its result kinds,
//    and a configuration it accepts is sane (ports in range, finite durations).
//  - Spawned, the built binary must exit 0, 1 or 2 (or run, and then exit 0 on SIGINT), never print
//    a stack trace, never hang, and its fd 3 must match its exit (dockerd's contract).
// The seed is printed; FAULT_SEED=<seed> reproduces a run, and each failure names its case.
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { parseCommandLine } from '../../src/cli/command-line.ts';
import { withTimeout } from '../helpers/timeout.ts';
import { generate, type Generated } from './helpers/grammar.ts';
import { killFaultProxies, spawnRaw, tempDir } from './helpers/proxy.ts';
import { LONG, size } from './helpers/settings.ts';
import { fmt } from '../helpers/stats.ts';
import { caseRandom } from '../helpers/random.ts';

/** Fixed in the short run (the same cases every time, as CI needs); fresh in the long one; FAULT_SEED wins. */
const SEED = Number(process.env['FAULT_SEED'] ?? (LONG ? Math.floor(Math.random() * 2 ** 31) : 20_251_128));
const IN_PROCESS = size(10_000, 20_000);
const SPAWNED = size(200, 2_000);
const WORKERS = 4;
/** From spawn to exit or "ready", on a loaded machine; a hang fails the case. */
const START_MS = 15_000;
const STOP_MS = 5_000;
const ARGV0 = '/usr/local/bin/docker-proxy';
const KINDS = ['run', 'help', 'version', 'usage-error', 'fail'];

console.log(`# CLI fuzz seed ${SEED} (reproduce with FAULT_SEED=${SEED})`);
after(killFaultProxies);

function describeCase(index: number, c: Generated): string {
  const short = (text: string): string => (text.length > 80 ? `${text.slice(0, 40)}…(${text.length} chars)` : text);
  return `case ${index} (FAULT_SEED=${SEED}): argv ${JSON.stringify(c.args.map(short))} env ${JSON.stringify(Object.fromEntries(
    Object.entries(c.env).map(([k, v]) => [k, short(v)])))}`;
}

/** Problems with a configuration the parser accepted, walking it whatever its exact shape. */
function insane(value: unknown, path = 'config'): string[] {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return [`${path} is ${value}`];
    if (/port$/i.test(path) && !(Number.isInteger(value) && value >= -1 && value <= 65535)) return [`${path} is ${value}`];
    if (/Ms$/.test(path) && !(value >= 1)) return [`${path} is ${value}`];
    if (/MaxFlows$/.test(path) && !(Number.isInteger(value) && value >= 1)) return [`${path} is ${value}`];
    return [];
  }
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => insane(inner, `${path}.${key}`));
}

/** Hosts the configuration would listen on (frontends, the metrics address), whatever its exact shape. */
function listenHosts(value: unknown, key = ''): string[] {
  if (typeof value !== 'object' || value === null) return [];
  if ((key === 'frontend' || key === 'metricsAddr') && typeof Reflect.get(value, 'host') === 'string') {
    return [String(Reflect.get(value, 'host'))];
  }
  return Object.entries(value).flatMap(([inner, v]) => listenHosts(v, inner));
}

const isLoopback = (host: string): boolean => host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

describe(`CLI fuzz: ${IN_PROCESS} command lines through parseCommandLine (in process)`, { timeout: size(120_000, 300_000) }, () => {
  it('never throws; returns one of its result kinds; an accepted configuration is sane', async () => {
    const dir = tempDir('fault-fuzz-');
    const problems: string[] = [];
    const counts = new Map<string, number>();
    for (let index = 0; index < IN_PROCESS && problems.length < 10; index += 1) {
      const c = generate(caseRandom(SEED, index), { spawnable: false, tmpDir: dir });
      let result: unknown;
      try {
        result = await parseCommandLine(c.args, c.env, ARGV0);
      } catch (error) {
        problems.push(`${describeCase(index, c)} threw ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        continue;
      }
      const action: unknown = typeof result === 'object' && result !== null ? Reflect.get(result, 'action') : undefined;
      if (typeof action !== 'string' || !KINDS.includes(action)) {
        problems.push(`${describeCase(index, c)} returned ${JSON.stringify(result)}`);
        continue;
      }
      counts.set(action, (counts.get(action) ?? 0) + 1);
      if (action === 'run') {
        const bad = insane(Reflect.get(Object(result), 'config'));
        if (bad.length > 0) problems.push(`${describeCase(index, c)} accepted an insane configuration: ${bad.join(', ')}`);
      }
      if (action === 'usage-error' || action === 'fail') {
        const message: unknown = action === 'fail' ? Reflect.get(Object(Reflect.get(Object(result), 'error')), 'message') : Reflect.get(Object(result), 'message');
        if (typeof message !== 'string' || message === '') problems.push(`${describeCase(index, c)} gave ${action} without a message`);
      }
    }
    console.log(`# in process: ${JSON.stringify(Object.fromEntries(counts))}`);
    assert.deepEqual(problems, []);
  });
});

interface Outcome {
  readonly index: number;
  readonly problem: string | undefined;
  readonly kind: string;
}

/** Whether `pid` has a socket on a descriptor above stderr (stdout/stderr are spawn's socketpairs). */
function hasOwnSocket(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => Number(fd) > 2 && readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:'));
  } catch {
    return false;
  }
}

const STACK_TRACE = /^ {4}at |node:internal|\b(TypeError|RangeError|ReferenceError|SyntaxError|AssertionError)\b|Uncaught/m;

async function runCase(index: number, dir: string): Promise<Outcome> {
  const r = caseRandom(SEED, 1_000_000 + index);
  const c = generate(r, { spawnable: true, tmpDir: dir });
  // Never listen beyond loopback, whatever the grammar produced: check what the parser would do.
  const parsed = await parseCommandLine(c.args, c.env, ARGV0);
  if (parsed.action === 'run') {
    const hosts = listenHosts(parsed.config);
    if (hosts.some((host) => !isLoopback(host))) return { index, problem: undefined, kind: 'skipped (would listen beyond loopback)' };
  }
  const withFd3 = r.chance(0.9);
  let proc: ReturnType<typeof spawnRaw>;
  try {
    proc = spawnRaw(c.args, { env: c.env, statusPipe: withFd3, cwd: dir });
  } catch (error) {
    return { index, problem: `${describeCase(index, c)}: the test could not spawn it: ${String(error)}`, kind: 'spawn error' };
  }
  const pid = proc.child.pid ?? -1;
  const what = describeCase(index, c);
  // Started when fd 3 says "0\n" (or, without fd 3, when it holds a socket of its own); or exits.
  const started = withFd3 && proc.pipe !== undefined
    ? proc.pipe.head.then((head) => head === '0\n')
    : new Promise<boolean>((resolve) => {
      const probe = setInterval(() => {
        if (hasOwnSocket(pid)) {
          clearInterval(probe);
          resolve(true);
        }
      }, 20);
      void proc.exited.then(() => {
        clearInterval(probe);
        resolve(false);
      });
    });
  let ran = false;
  try {
    ran = await withTimeout(Promise.race([started, proc.exited.then(() => false)]), START_MS, 'exit or ready');
  } catch {
    proc.child.kill('SIGKILL');
    return { index, problem: `${what}: neither exited nor became ready within ${START_MS} ms (hang)`, kind: 'hang' };
  }
  if (ran && proc.exitedAt() === undefined) proc.child.kill('SIGINT');
  let exit;
  try {
    exit = await withTimeout(proc.exited, STOP_MS, 'exit');
  } catch {
    proc.child.kill('SIGKILL');
    return { index, problem: `${what}: did not exit within ${STOP_MS} ms${ran ? ' of SIGINT' : ''}`, kind: 'hang' };
  }
  const fd3 = withFd3 && proc.pipe !== undefined ? (await withTimeout(proc.pipe.all, STOP_MS, 'EOF on fd 3')).text : '';
  const stderr = proc.stderr();
  const kind = ran ? 'ran, SIGINT' : `exit ${String(exit.code)}`;
  const fail = (problem: string): Outcome => ({ index, kind, problem: `${what}: ${problem}; exit ${JSON.stringify(exit)}, `
    + `fd 3 ${JSON.stringify(fd3.slice(0, 200))}, stderr ${JSON.stringify(stderr.slice(-600))}` });
  if (STACK_TRACE.test(stderr)) return fail('stack trace on stderr');
  if (exit.signal !== null || exit.code === null || ![0, 1, 2].includes(exit.code)) return fail('exit status not 0, 1 or 2');
  // Without fd 3, "ran" is only "holds a socket", which a start-up that then fails (an unwritable
  // metrics directory, after the metrics port is open) also does: it exits 1 by itself, as it must.
  if (ran && exit.code !== 0 && (withFd3 || exit.code !== 1)) return fail('SIGINT did not give exit status 0');
  if (withFd3) {
    if (ran && fd3 !== '0\n') return fail('ran without "0\\n" on fd 3');
    if (!ran && exit.code === 1 && !(fd3.startsWith('1\n') && fd3.length > 2)) return fail('exit 1 without "1\\n<error>" on fd 3');
    if (!ran && exit.code !== 1 && fd3 !== '') return fail('exit 0/2 (flags, -h, -v) wrote to fd 3');
  }
  return { index, kind, problem: undefined };
}

describe(`CLI fuzz: ${SPAWNED} spawned runs of the built binary`, { timeout: size(180_000, 1_200_000) }, () => {
  it('exit 0, 1 or 2 (or run and exit 0 on SIGINT); no stack trace; no hang; fd 3 matches the exit', async () => {
    const dir = tempDir('fault-fuzz-spawn-');
    const outcomes: Outcome[] = [];
    let next = 0;
    const started = performance.now();
    await Promise.all(Array.from({ length: WORKERS }, async () => {
      while (next < SPAWNED) {
        const index = next;
        next += 1;
        outcomes.push(await runCase(index, dir));
      }
    }));
    const counts = new Map<string, number>();
    for (const o of outcomes) counts.set(o.kind, (counts.get(o.kind) ?? 0) + 1);
    console.log(`# spawned: ${JSON.stringify(Object.fromEntries(counts))} in ${fmt((performance.now() - started) / 1000)} s`);
    const problems = outcomes.filter((o) => o.problem !== undefined).sort((a, b) => a.index - b.index).map((o) => o.problem);
    assert.deepEqual(problems.slice(0, 10), [], `${problems.length} of ${SPAWNED} cases failed`);
  });
});
