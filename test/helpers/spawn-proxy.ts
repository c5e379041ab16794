// Spawns the binary under test exactly as dockerd's StartProxy does: argv[0] is the full path,
// every flag and value is its own argv element, fd 3 is a status pipe, fd 4 the listening socket
// when -use-listen-fd is passed last, stdin is /dev/null. stdout/stderr are captured (dockerd
// throws them away) so tests can assert on them.
import { type ChildProcess, spawn } from 'node:child_process';
import type dgram from 'node:dgram';
import type net from 'node:net';
import { dgramFd, serverFd } from './net.ts';
import { openStatusPipe, type StatusData } from './status-pipe.ts';
import { PROXY_BIN } from './target.ts';
import { STEP_MS, withTimeout } from './timeout.ts';

/** One port mapping, as dockerd describes it on the command line. */
export interface Mapping {
  readonly proto: string;
  readonly hostIp: string;
  readonly hostPort: number | string;
  readonly containerIp: string;
  readonly containerPort: number | string;
  /** Passed as fd 4 with -use-listen-fd appended; the test's copy is closed after spawn. */
  readonly listenSocket?: net.Server | dgram.Socket;
}

/** dockerd's argv after argv[0]. */
export function dockerdArgs(m: Mapping): string[] {
  const args = ['-proto', m.proto, '-host-ip', m.hostIp, '-host-port', String(m.hostPort),
    '-container-ip', m.containerIp, '-container-port', String(m.containerPort)];
  return m.listenSocket === undefined ? args : [...args, '-use-listen-fd'];
}

export interface Exit { readonly code: number | null; readonly signal: NodeJS.Signals | null }

export interface SpawnOptions {
  /** Give the child a status pipe on fd 3 (default true; false = run by hand, stdio of 3). */
  readonly statusPipe?: boolean;
  /** Raw fd to place at fd 4 (needs statusPipe); usually set through a Mapping's listenSocket. */
  readonly fd4?: number;
  /** Extra environment; DOCKER_PROXY_* variables of the test's own environment are dropped. */
  readonly env?: Readonly<Record<string, string>>;
  /** Another binary than PROXY_BIN (for example a copy of it elsewhere). */
  readonly bin?: string;
  /** Working directory of the child (default: the test's). */
  readonly cwd?: string;
}

/** A running (or finished) proxy process. */
export interface ProxyProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The first 2 bytes of fd 3 ('' when there is no fd 3); "0\n" means started. */
  readonly head: Promise<string>;
  /** All of fd 3 until EOF (empty when there is no fd 3). */
  readonly status: Promise<StatusData>;
  /** Resolves when the process has exited and its stdout/stderr are drained. */
  readonly exited: Promise<Exit>;
  stdout(): string;
  stderr(): string;
  /** Sends `signal` (dockerd stops with SIGINT) and waits up to `ms` for the exit. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<Exit>;
}

const live = new Set<ChildProcess>();

function childEnv(extra: Readonly<Record<string, string>> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // The data path is the one setting a whole run may pick (npm test runs the TCP files with
    // each); every other DOCKER_PROXY_* of the test's environment is dropped.
    if (!key.startsWith('DOCKER_PROXY_') || key === 'DOCKER_PROXY_DATA_PATH') env[key] = value;
  }
  return { ...env, ...extra };
}

/** Spawns PROXY_BIN with `args` (argv[0] is added) and dockerd's fd layout. */
export function spawnProxy(args: readonly string[], opts: SpawnOptions = {}): ProxyProcess {
  const pipe = opts.statusPipe === false ? undefined : openStatusPipe();
  const stdio: Array<'ignore' | 'pipe' | number> = ['ignore', 'pipe', 'pipe'];
  if (pipe !== undefined) stdio.push(pipe.writeFd);
  if (opts.fd4 !== undefined) stdio.push(opts.fd4);
  let child: ChildProcess;
  try {
    const bin = opts.bin ?? PROXY_BIN;
    child = spawn(bin, args, { argv0: bin, stdio, env: childEnv(opts.env), cwd: opts.cwd });
  } finally {
    pipe?.closeWriteEnd(); // as dockerd does: only the child may hold the write end now
  }
  live.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { out += s; });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { err += s; });
  const exited = new Promise<Exit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => { live.delete(child); resolve({ code, signal }); });
  });
  exited.catch(() => undefined);
  const { pid } = child;
  if (pid === undefined) throw new Error(`could not spawn ${PROXY_BIN}`);
  const none = Promise.resolve<StatusData>({ text: '', chunks: 0 });
  return {
    child, pid, exited,
    head: pipe?.head ?? Promise.resolve(''),
    status: pipe?.all ?? none,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal: NodeJS.Signals = 'SIGINT', ms = 1_000) => {
      child.kill(signal);
      return withTimeout(exited, ms, `exit of docker-proxy after ${signal}`);
    },
  };
}

/** Spawns a proxy for `m` the way dockerd does; the test's copy of fd 4 is closed after spawn. */
export function spawnMapping(m: Mapping, opts: Omit<SpawnOptions, 'fd4'> = {}): ProxyProcess {
  const sock = m.listenSocket;
  const fd4 = sock === undefined ? undefined : 'listen' in sock ? serverFd(sock) : dgramFd(sock);
  const proc = spawnProxy(dockerdArgs(m), { ...opts, fd4 });
  sock?.close();
  return proc;
}

/**
 * Spawns a proxy and waits for the daemon's success test (the first two bytes of fd 3 are
 * exactly "0\n"). Throws with fd 3's text and stderr otherwise.
 */
export async function startProxy(m: Mapping, opts: Omit<SpawnOptions, 'fd4' | 'statusPipe'> = {},
): Promise<ProxyProcess> {
  return awaitReady(spawnMapping(m, opts));
}

/** Waits for "0\n" on fd 3 of a spawned proxy; throws with fd 3's text and stderr otherwise. */
export async function awaitReady(proc: ProxyProcess): Promise<ProxyProcess> {
  const head = await withTimeout(proc.head, STEP_MS, 'docker-proxy status on fd 3');
  if (head !== '0\n') {
    const rest = await withTimeout(proc.status, STEP_MS, 'rest of fd 3');
    throw new Error(`docker-proxy failed to start: fd 3 ${JSON.stringify(rest.text)}, stderr ${JSON.stringify(proc.stderr())}`);
  }
  return proc;
}

/** SIGKILLs every proxy still running and waits for them; call it from after/afterEach. */
export async function killAll(): Promise<void> {
  const waits = [...live].map((child) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  }));
  live.clear();
  await withTimeout(Promise.all(waits), STEP_MS, 'SIGKILL of leftover docker-proxy processes');
}

/** What a process that is expected to exit by itself (CLI errors, -h, -v) left behind. */
export interface Finished {
  readonly exit: Exit;
  readonly stdout: string;
  readonly stderr: string;
  /** Everything written on fd 3 (must be empty for CLI exits). */
  readonly fd3: string;
}

/** Spawns PROXY_BIN with `args` and waits (with a deadline) for it to exit on its own. */
export async function runToExit(args: readonly string[], opts: SpawnOptions = {}): Promise<Finished> {
  const proc = spawnProxy(args, opts);
  const exit = await withTimeout(proc.exited, STEP_MS, `docker-proxy ${args.join(' ')} to exit by itself`);
  const status = await withTimeout(proc.status, STEP_MS, 'EOF on fd 3');
  return { exit, stdout: proc.stdout(), stderr: proc.stderr(), fd3: status.text };
}
