// Starts the proxy under test for the fault suite: as dockerd does (fd 3 status FIFO, the bound
// socket on fd 4 with -use-listen-fd, so every port is OS-chosen), optionally under a descriptor
// limit. prlimit(1) sets the limit and then execs the proxy, so the pid, fds 3/4 and signals are
// the proxy's own. Every process started here is SIGKILLed by killFaultProxies() (after hooks).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { shareWithProxy } from '../../helpers/proxy-user.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeSocket, dgramFd, listenTcp, bindUdp, portOf, serverFd } from '../../helpers/net.ts';
import { openStatusPipe } from '../../helpers/status-pipe.ts';
import { osChosenPort } from '../../helpers/ports.ts';
import { PROXY_BIN } from '../../helpers/target.ts';
import { withTimeout } from '../../helpers/timeout.ts';
import { V4, type DataPathName } from './settings.ts';

/** How long a proxy may take to report "0\n" on a loaded 2-core machine. */
const START_MS = 15_000;
/** stderr kept per process (the tail), so that a chatty proxy cannot grow the test's memory. */
const STDERR_KEEP = 256 * 1024;

export interface Exit { readonly code: number | null; readonly signal: NodeJS.Signals | null }

export interface FaultProxyOptions {
  readonly proto: 'tcp' | 'udp';
  readonly containerPort: number;
  readonly containerIp?: string;
  readonly hostIp?: string;
  /** DOCKER_PROXY_DATA_PATH (TCP). */
  readonly dataPath?: DataPathName;
  /** Soft and hard RLIMIT_NOFILE, set through prlimit(1) before exec. */
  readonly nofile?: number;
  /** Give the proxy DOCKER_PROXY_LOG_FILE in a temporary directory. */
  readonly logFile?: boolean;
  /** Give the proxy DOCKER_PROXY_METRICS_ADDR on an OS-chosen loopback port. */
  readonly metrics?: boolean;
  readonly env?: Readonly<Record<string, string>>;
}

export interface FaultProxy {
  readonly pid: number;
  readonly hostPort: number;
  readonly metricsPort: number;
  /** Path of DOCKER_PROXY_LOG_FILE ('' when not asked for). */
  readonly logPath: string;
  readonly child: ChildProcess;
  /** Resolves at the child's 'exit' event. */
  readonly exited: Promise<Exit>;
  /** performance.now() of the 'exit' event, once it happened. */
  exitedAt(): number | undefined;
  alive(): boolean;
  stderr(): string;
  /** The JSON lines of the log file, parsed (lines that are not JSON objects are skipped). */
  logLines(): Array<Record<string, unknown>>;
}

const live = new Set<ChildProcess>();
const tempDirs: string[] = [];

function childEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('DOCKER_PROXY_') && key !== 'FAULT_LONG' && !key.startsWith('NODE_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** A fresh temporary directory, removed by killFaultProxies(). */
export function tempDir(prefix: string): string {
  const dir = shareWithProxy(mkdtempSync(join(tmpdir(), prefix)));
  tempDirs.push(dir);
  return dir;
}

function parseLogLines(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) out.push(Object.fromEntries(Object.entries(value)));
    } catch {
      // A torn or foreign line: not a log record.
    }
  }
  return out;
}

let scratch: string | undefined;

/**
 * Spawns `args` (argv after argv[0]) with dockerd's fds, optionally under prlimit. The working
 * directory is a temporary one (`cwd`, or one made here): a relative path in a fuzzed command line
 * (a log file named "-v", say) must not land in the repository.
 */
export function spawnRaw(args: readonly string[], opts: { nofile?: number; env?: Readonly<Record<string, string>>;
  fd4?: number; statusPipe?: boolean; cwd?: string } = {}) {
  const cwd = opts.cwd ?? (scratch ??= tempDir('fault-cwd-'));
  const pipe = opts.statusPipe === false ? undefined : openStatusPipe();
  const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe'];
  if (pipe !== undefined) stdio.push(pipe.writeFd);
  if (opts.fd4 !== undefined) stdio.push(opts.fd4);
  const command = opts.nofile === undefined ? PROXY_BIN : 'prlimit';
  const argv = opts.nofile === undefined ? [...args] : [`--nofile=${opts.nofile}:${opts.nofile}`, '--', PROXY_BIN, ...args];
  let child: ChildProcess;
  try {
    child = spawn(command, argv, { argv0: command === PROXY_BIN ? PROXY_BIN : 'prlimit', stdio, cwd, env: childEnv(opts.env ?? {}) });
  } finally {
    pipe?.closeWriteEnd();
  }
  live.add(child);
  let err = '';
  child.stdout?.resume();
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    err += text;
    if (err.length > 2 * STDERR_KEEP) err = err.slice(-STDERR_KEEP);
  });
  let exitTime: number | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitTime = performance.now();
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', () => {
      exitTime = performance.now();
      live.delete(child);
      resolve({ code: null, signal: null });
    });
  });
  return {
    child, exited, pipe,
    exitedAt: () => exitTime,
    stderr: () => err,
  };
}

function dockerdArgs(opts: FaultProxyOptions, hostPort: number): string[] {
  return ['-proto', opts.proto, '-host-ip', opts.hostIp ?? V4, '-host-port', String(hostPort),
    '-container-ip', opts.containerIp ?? V4, '-container-port', String(opts.containerPort), '-use-listen-fd'];
}

/** Starts a proxy as dockerd does and waits for "0\n" on fd 3; throws if it reports a failure. */
export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const started = await tryStartFaultProxy(opts);
  if ('failure' in started) {
    throw new Error(`docker-proxy failed to start: fd 3 ${JSON.stringify(started.failure)}, stderr ${JSON.stringify(started.stderr.slice(-2000))}`);
  }
  return started.proxy;
}

/** Starts a proxy as dockerd does: the running proxy, or what it wrote on fd 3 when it did not start. */
export async function tryStartFaultProxy(opts: FaultProxyOptions): Promise<{ proxy: FaultProxy } | { failure: string; stderr: string }> {
  const hostIp = opts.hostIp ?? V4;
  const socket = opts.proto === 'tcp' ? await listenTcp({ host: hostIp }) : await bindUdp(hostIp);
  const hostPort = portOf(socket);
  const fd4 = 'listen' in socket ? serverFd(socket) : dgramFd(socket);
  const env: Record<string, string> = { ...opts.env };
  if (opts.dataPath !== undefined) env['DOCKER_PROXY_DATA_PATH'] = opts.dataPath;
  let logPath = '';
  if (opts.logFile === true) {
    logPath = join(tempDir('fault-log-'), 'proxy.log');
    env['DOCKER_PROXY_LOG_FILE'] = logPath;
  }
  const metricsPort = opts.metrics === true ? await osChosenPort('tcp', V4) : 0;
  if (opts.metrics === true) env['DOCKER_PROXY_METRICS_ADDR'] = `${V4}:${metricsPort}`;
  const raw = spawnRaw(dockerdArgs(opts, hostPort), { nofile: opts.nofile, env, fd4 });
  await closeSocket(socket); // as dockerd does: the proxy owns the socket now
  const { pid } = raw.child;
  if (pid === undefined || raw.pipe === undefined) throw new Error(`could not spawn ${PROXY_BIN}`);
  const head = await withTimeout(raw.pipe.head, START_MS, 'docker-proxy status on fd 3');
  if (head !== '0\n') {
    const rest = await withTimeout(raw.pipe.all, START_MS, 'rest of fd 3');
    await withTimeout(raw.exited, START_MS, 'the exit of a proxy that failed to start');
    return { failure: rest.text, stderr: raw.stderr() };
  }
  return { proxy: {
    pid, hostPort, metricsPort, logPath,
    child: raw.child,
    exited: raw.exited,
    exitedAt: raw.exitedAt,
    alive: () => raw.exitedAt() === undefined,
    stderr: raw.stderr,
    logLines: () => (logPath === '' ? [] : parseLogLines(readFileSync(logPath, 'utf8'))),
  } };
}

/** SIGKILLs every process started here that still runs, and removes the temporary directories. */
export async function killFaultProxies(): Promise<void> {
  const waits = [...live].map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  }));
  await withTimeout(Promise.all(waits), 10_000, 'SIGKILL of leftover proxies');
  live.clear();
  scratch = undefined;
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
