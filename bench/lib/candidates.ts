// The proxies under test and how to start each one the way dockerd does: `-proto P -host-ip
// 127.0.0.1 -host-port HP -container-ip 127.0.0.1 -container-port CP`, a real pipe on fd 3
// awaited for "0\n", SIGINT to stop.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { osChosenPort, isBound } from '../../test/helpers/ports.ts';
import { LOOPBACK } from '../../test/helpers/net.ts';
import { type Exit, type Tracked, startTracked, stopTracked } from './procs.ts';
import { openStatusFifo } from './status-fifo.ts';

/**
 * Candidates of the traffic scenarios, in table order. `ours-metrics` sits next to `ours-splice`:
 * the rotation of each round keeps the two back to back, so background load hits them alike.
 */
export const TRAFFIC_CANDIDATES = ['ours-splice', 'ours-metrics', 'ours-stream', 'go', 'socat', 'direct'] as const;
/**
 * Metrics on vs off is a difference of a few per cent, far below the round-to-round noise of a
 * shared 2-CPU machine: in full mode the two run 4× the rounds (20 with the default 5), paired.
 */
export const METRICS_OVERHEAD_ROUNDS = { candidates: ['ours-splice', 'ours-metrics'], factor: 4 } as const;
/**
 * The same pair where the scenario loads the two side by side (the HTTP ones): two at once cost
 * one round's time, so 8× (40 rounds, 35 of them side by side) takes about what 4× alternating did.
 */
export const METRICS_OVERHEAD_SIDE_BY_SIDE = { candidates: ['ours-splice', 'ours-metrics'], factor: 8 } as const;

/**
 * Every candidate name: the traffic ones, the bare Node listener baseline of the start-up
 * scenario, and `ours-many`, our proxy in its many-mappings mode (`-p SPEC`).
 */
export const ALL_CANDIDATES = [...TRAFFIC_CANDIDATES, 'bare', 'ours-many'] as const;
export type Candidate = (typeof ALL_CANDIDATES)[number];

/** The TCP data path each of our variants is asked to run (DOCKER_PROXY_DATA_PATH). */
export const OURS_DATA_PATH: Readonly<Partial<Record<Candidate, 'splice' | 'stream'>>> = {
  'ours-splice': 'splice', 'ours-metrics': 'splice', 'ours-stream': 'stream', 'ours-many': 'splice',
};

export function isCandidate(name: string): name is Candidate {
  return (ALL_CANDIDATES as readonly string[]).includes(name);
}

/** Where the binaries are; filled in by the runner once the tools are in place. */
export interface Toolbox {
  readonly oursBundle: string;
  readonly goBinary: string | undefined;
  readonly bareListener: string;
  /** Scratch directory for fifos and proxy logs. */
  readonly workDir: string;
}

export interface Mapping {
  readonly proto: 'tcp' | 'udp';
  readonly hostPort: number;
  readonly containerPort: number;
}

/** A started candidate: where clients connect, and how it is doing. */
export interface RunningProxy {
  readonly candidate: Candidate;
  /** Undefined for `direct`, which has no process. */
  readonly pid: number | undefined;
  /** Port the clients use: the host port, or the backend's for `direct`. */
  readonly port: number;
  /** Milliseconds from spawn to "0\n" on fd 3 (to the listening socket for socat). */
  readonly readyMs: number;
  /** Its stdout+stderr (undefined for direct). */
  readonly logPath: string | undefined;
  /** Where it serves GET /metrics (ours-metrics only). */
  readonly metricsPort?: number;
  /** The exit, if the process ended on its own (a crash while under test). */
  died(): Exit | undefined;
  stop(): Promise<Exit | undefined>;
}

/** Thrown when a candidate cannot be started; the runner turns it into a loud failure. */
export class StartError extends Error {
  override name = 'StartError';
}

function dockerdArgs(mapping: Mapping): string[] {
  return ['-proto', mapping.proto, '-host-ip', '127.0.0.1', '-host-port', String(mapping.hostPort),
    '-container-ip', '127.0.0.1', '-container-port', String(mapping.containerPort)];
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('DOCKER_PROXY_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** socat's nearest equivalent of a docker-proxy mapping; see bench/README.md for the choice. */
function socatArgs(mapping: Mapping): string[] {
  const { hostPort, containerPort } = mapping;
  return mapping.proto === 'tcp'
    ? [`TCP4-LISTEN:${hostPort},bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=4096`, `TCP4:127.0.0.1:${containerPort},nodelay`]
    // UDP-LISTEN+fork gives each client its own child with one backend socket: the same
    // per-client flow as docker-proxy's conntrack. -T 90 is docker-proxy's flow idle timeout.
    : ['-T', '90', `UDP4-LISTEN:${hostPort},bind=127.0.0.1,reuseaddr,fork`, `UDP4:127.0.0.1:${containerPort}`];
}

/** `-p` SPEC of one mapping, the many-mappings syntax. */
export function publishSpec(proto: 'tcp' | 'udp', hostPorts: string, containerPort: number): string {
  return `127.0.0.1:${hostPorts}:127.0.0.1:${containerPort}/${proto}`;
}

/** The environment of our proxy: the asked-for data path, plus any extra variables. */
export function oursEnv(candidate: Candidate, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({ DOCKER_PROXY_DATA_PATH: OURS_DATA_PATH[candidate] ?? 'splice', ...extra });
}

interface Command {
  readonly file: string;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
  readonly statusPipe: boolean;
}

function command(candidate: Candidate, mapping: Mapping, tools: Toolbox, metricsPort: number | undefined): Command {
  const args = dockerdArgs(mapping);
  switch (candidate) {
    case 'ours-splice':
    case 'ours-stream':
      return { file: process.execPath, args: [tools.oursBundle, ...args], statusPipe: true, env: oursEnv(candidate) };
    case 'ours-metrics':
      // Metrics on: the HTTP endpoint that the scraper of lib/cpu.ts reads during every load.
      return { file: process.execPath, args: [tools.oursBundle, ...args], statusPipe: true,
        env: oursEnv(candidate, { DOCKER_PROXY_METRICS_ADDR: `127.0.0.1:${String(metricsPort)}` }) };
    case 'ours-many':
      // One mapping, but through the many-mappings path (-p), as the correctness check needs.
      return { file: process.execPath, statusPipe: true, env: oursEnv(candidate),
        args: [tools.oursBundle, '-p', publishSpec(mapping.proto, String(mapping.hostPort), mapping.containerPort)] };
    case 'go':
      if (tools.goBinary === undefined) throw new StartError('the Go docker-proxy was not fetched');
      return { file: tools.goBinary, args, env: cleanEnv({}), statusPipe: true };
    case 'bare':
      return { file: process.execPath, args: [tools.bareListener, ...args], env: cleanEnv({}), statusPipe: true };
    case 'socat':
      return { file: 'socat', args: socatArgs(mapping), env: cleanEnv({}), statusPipe: false };
    case 'direct':
      throw new StartError('direct has no process');
  }
}

async function untilBound(proc: Tracked, mapping: Mapping): Promise<void> {
  const deadline = Date.now() + 16_000;
  while (Date.now() < deadline && proc.exit() === undefined) {
    if (isBound(mapping.proto, mapping.hostPort)) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new StartError(`socat never bound ${mapping.proto} port ${mapping.hostPort}`);
}

let logCounter = 0;

/** How a candidate is started beyond its command. */
export interface StartOptions {
  /**
   * stdout and stderr on /dev/null, as dockerd sets them, instead of a log file. Start-up is then
   * what it is under dockerd: our proxy loads its logger (pino) only when a log line can reach
   * someone, and that costs more start-up time than the rest of the proxy.
   */
  readonly asDockerd?: boolean;
}

/** Starts `candidate` for `mapping` and waits until it is ready (dockerd's 16 s limit). */
export async function startCandidate(candidate: Candidate, mapping: Mapping, tools: Toolbox, options: StartOptions = {}): Promise<RunningProxy> {
  if (candidate === 'direct') {
    return { candidate, pid: undefined, port: mapping.containerPort, readyMs: 0, logPath: undefined,
      died: () => undefined, stop: () => Promise.resolve(undefined) };
  }
  const metricsPort = candidate === 'ours-metrics' ? await osChosenPort('tcp', LOOPBACK.v4) : undefined;
  const proxy = await startCommand(candidate, command(candidate, mapping, tools, metricsPort), mapping, tools, options);
  return metricsPort === undefined ? proxy : { ...proxy, metricsPort };
}

/**
 * Starts our proxy with a command line of its own (the many-mappings scenario's `-p` specs) and
 * waits for "0\n" on fd 3. `port` is what its RunningProxy reports as the clients' port.
 */
export function startOurs(candidate: Candidate, args: readonly string[], port: number, tools: Toolbox,
  extraEnv: Record<string, string> = {}): Promise<RunningProxy> {
  const spec: Command = { file: process.execPath, args: [tools.oursBundle, ...args], env: oursEnv(candidate, extraEnv), statusPipe: true };
  return startCommand(candidate, spec, { proto: 'tcp', hostPort: port, containerPort: 0 }, tools);
}

async function startCommand(candidate: Candidate, spec: Command, mapping: Mapping, tools: Toolbox,
  options: StartOptions = {}): Promise<RunningProxy> {
  const { file, args, env, statusPipe } = spec;
  const logPath = options.asDockerd === true ? undefined : join(tools.workDir, `${candidate}-${mapping.proto}-${mapping.hostPort}-${logCounter++}.log`);
  const logFd = openSync(logPath ?? '/dev/null', 'w');
  const fifo = statusPipe ? openStatusFifo(tools.workDir) : undefined;
  const stdio: Array<'ignore' | number> = ['ignore', logFd, logFd];
  if (fifo !== undefined) stdio.push(fifo.writeFd);
  const startedAt = performance.now();
  let proc: Tracked;
  try {
    proc = startTracked(file, args, { stdio, env });
  } finally {
    fifo?.closeWriteEnd();
    closeSync(logFd);
  }
  let readyAt: number;
  if (fifo !== undefined) {
    const timeout = new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 16_000).unref());
    const status = await Promise.race([fifo.status, timeout]);
    if (status?.text !== '0\n') {
      await stopTracked(proc, 'SIGKILL', 1000);
      const log = logPath === undefined ? '(stderr was /dev/null)' : readFileSync(logPath, 'utf8').trim().slice(-1500);
      throw new StartError(`${candidate} did not report ready on fd 3 (got ${JSON.stringify(status?.text ?? 'nothing in 16 s')}); log: ${log}`);
    }
    readyAt = status.firstByteAt;
  } else {
    await untilBound(proc, mapping).catch(async (error: unknown) => {
      await stopTracked(proc, 'SIGKILL', 1000);
      throw error;
    });
    readyAt = performance.now();
  }
  return {
    candidate,
    pid: proc.pid,
    port: mapping.hostPort,
    readyMs: readyAt - startedAt,
    logPath,
    died: () => proc.exit(),
    stop: () => stopTracked(proc, 'SIGINT'),
  };
}

/** Whether the built bundle knows DOCKER_PROXY_DATA_PATH (its -h lists it); without it both "ours" run one path. */
export function bundleHasDataPathOption(bundle: string): boolean {
  const help = spawnSync(process.execPath, [bundle, '-h'], { encoding: 'utf8', timeout: 10_000 });
  return `${help.stdout}${help.stderr}`.includes('DOCKER_PROXY_DATA_PATH');
}

/** The TCP data path our proxy says it runs ("dataPath" of its start-up log line), if it says. */
export function loggedDataPath(proxy: RunningProxy): string | undefined {
  if (proxy.logPath === undefined) return undefined;
  return /"dataPath":"([a-z]+)"/.exec(readFileSync(proxy.logPath, 'utf8'))?.[1];
}
