// Every process the bench starts goes through here, so that all of them are killed at the end,
// on Ctrl-C and on failure. Each child leads its own process group (detached), so killing the
// group also reaches what it forked (socat's per-connection children, nginx's workers).
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';

/** How a child ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started child with its exit as a promise. */
export interface Tracked {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<Exit>;
  /** Non-undefined once the child has exited. */
  exit(): Exit | undefined;
}

const live = new Map<number, ChildProcess>();

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Spawns a tracked child in its own process group. */
export function startTracked(file: string, args: readonly string[], options: SpawnOptions): Tracked {
  const child = spawn(file, args, { ...options, detached: true });
  // ENOENT and friends arrive as an 'error' event; the missing pid below reports them.
  child.once('error', () => undefined);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start ${file}: no pid (not found or not executable?)`);
  live.set(pid, child);
  let ended: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      ended = { code, signal };
      // The group may still hold forked children; they die with their leader.
      killGroup(pid, 'SIGKILL');
      live.delete(pid);
      resolve(ended);
    });
  });
  return { child, pid, exited, exit: () => ended };
}

/** Sends `signal`, waits up to `ms`, then SIGKILLs the whole group; resolves with the exit. */
export async function stopTracked(proc: Tracked, signal: NodeJS.Signals, ms = 5000): Promise<Exit> {
  if (proc.exit() === undefined) {
    try {
      process.kill(proc.pid, signal);
    } catch {
      // Exited between the check and the kill.
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  const result = await Promise.race([proc.exited, timeout]);
  clearTimeout(timer);
  if (result !== undefined) return result;
  killGroup(proc.pid, 'SIGKILL');
  return proc.exited;
}

/** Kills every live tracked group at once; safe to call from an 'exit' handler. */
export function killAll(): void {
  for (const pid of live.keys()) killGroup(pid, 'SIGKILL');
  live.clear();
}

/** Installs the handlers that kill all children on exit, Ctrl-C, SIGTERM and crashes. */
export function killChildrenOnExit(): void {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping all child processes\n`);
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`bench: ${error.stack ?? String(error)}\n`);
    killAll();
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`bench: unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}\n`);
    killAll();
    process.exit(1);
  });
}

/** Output of a command run to completion. */
export interface Completed extends Exit {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a tracked command to completion (killed after `timeoutMs`), capturing its output. */
export async function runToEnd(file: string, args: readonly string[], timeoutMs: number,
  env?: NodeJS.ProcessEnv): Promise<Completed> {
  const proc = startTracked(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let stdout = '';
  let stderr = '';
  proc.child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  proc.child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  // 'close' comes after both 'exit' and the end of the pipes.
  const closed = new Promise<void>((resolve) => proc.child.once('close', () => resolve()));
  const timer = setTimeout(() => killGroup(proc.pid, 'SIGKILL'), timeoutMs);
  const exit = await proc.exited;
  await closed;
  clearTimeout(timer);
  return { ...exit, stdout, stderr };
}

/** Like runToEnd, but throws with the command's stderr unless it exited 0. */
export async function runChecked(file: string, args: readonly string[], timeoutMs: number,
  env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await runToEnd(file, args, timeoutMs, env);
  if (result.code !== 0) {
    const how = result.signal === null ? `status ${String(result.code)}` : `signal ${result.signal}`;
    throw new Error(`${file} ${args.join(' ')} failed (${how}): ${result.stderr.trim().slice(-2000)}`);
  }
  return result.stdout;
}
