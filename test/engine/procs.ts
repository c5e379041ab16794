// What the engine suite learns about processes from the kernel: a parent's children and
// their argv (from /proc, as moby's checkProxies does with `ps --ppid`), and the exit status
// of any process (from proc-exits.py), which dockerd 20.10 reaps and never reports.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { STEP_MS, withTimeout } from '../helpers/timeout.ts';

/** A live process: its pid and argv as /proc/<pid>/cmdline shows it. */
export interface ProcessInfo {
  readonly pid: number;
  readonly argv: readonly string[];
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return undefined; // it exited while we looked
  }
}

function parentOf(pid: number): number | undefined {
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return undefined;
  // The comm field may hold spaces and parentheses; the fields after its last ')' are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[1]);
}

/** The children of `ppid`, with their argv. */
export function childrenOf(ppid: number): ProcessInfo[] {
  const children: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || parentOf(pid) !== ppid) continue;
    const cmdline = readProc(pid, 'cmdline');
    if (cmdline === undefined || cmdline === '') continue; // a zombie has no argv left
    children.push({ pid, argv: cmdline.replace(/\0$/, '').split('\0') });
  }
  return children;
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  const stat = readProc(pid, 'stat');
  if (stat === undefined) return false;
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** How a process ended: exit code, or the number of the signal that killed it (else 0). */
export interface ExitStatus {
  readonly code: number;
  readonly signal: number;
}

function parseExit(line: string): { pid: number; status: ExitStatus } | { event: string; message: string } {
  const value: unknown = JSON.parse(line);
  if (typeof value !== 'object' || value === null) throw new Error(`proc-exits.py printed ${line}`);
  const field = (key: string): unknown => Reflect.get(value, key);
  const [pid, code, signal, event] = [field('pid'), field('code'), field('signal'), field('event')];
  if (typeof pid === 'number' && typeof code === 'number' && typeof signal === 'number') {
    return { pid, status: { code, signal } };
  }
  if (typeof event === 'string') return { event, message: String(field('message') ?? '') };
  throw new Error(`proc-exits.py printed ${line}`);
}

/** Records the exit status of every process that exits while it runs. */
export class ExitWatcher {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #exits = new Map<number, ExitStatus>();
  readonly #waiters = new Map<number, (status: ExitStatus) => void>();

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
  }

  /** Starts proc-exits.py and resolves once it is subscribed to the kernel's events. */
  static async start(): Promise<ExitWatcher> {
    const script = fileURLToPath(new URL('./proc-exits.py', import.meta.url));
    const child = spawn('python3', [script], { stdio: ['pipe', 'pipe', 'pipe'] });
    const watcher = new ExitWatcher(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`proc-exits.py exited with ${code} before it was ready`)));
      createInterface({ input: child.stdout }).on('line', (line) => {
        const parsed = parseExit(line);
        if ('pid' in parsed) watcher.#record(parsed.pid, parsed.status);
        else if (parsed.event === 'ready') resolve();
        else reject(new Error(`proc-exits.py: ${parsed.message}`));
      });
    });
    await withTimeout(ready, STEP_MS, 'proc-exits.py subscribing to process events');
    return watcher;
  }

  #record(pid: number, status: ExitStatus): void {
    this.#exits.set(pid, status);
    this.#waiters.get(pid)?.(status);
    this.#waiters.delete(pid);
  }

  /** The exit status of `pid`, waiting up to `ms` for it to exit. */
  exitOf(pid: number, ms: number): Promise<ExitStatus> {
    const known = this.#exits.get(pid);
    if (known !== undefined) return Promise.resolve(known);
    const exited = new Promise<ExitStatus>((resolve) => this.#waiters.set(pid, resolve));
    return withTimeout(exited, ms, `exit of pid ${pid}`);
  }

  /** Stops the watcher (closing its stdin ends it). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#child.stdin.end();
    await withTimeout(gone, STEP_MS, 'proc-exits.py to exit').catch(() => this.#child.kill('SIGKILL'));
  }
}
