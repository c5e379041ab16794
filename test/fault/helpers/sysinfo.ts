// What the kernel says about a process that no socket event reports: CPU time, memory, open
// descriptors; and the test process's own descriptor limit. Callers poll these with a deadline.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fdKinds, type FdKinds } from '../../helpers/proc.ts';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { pollUntil } from '../../helpers/timeout.ts';

export { fdKinds, type FdKinds };

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ). */
const CLK_TCK: number = (() => {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
})();

/** One CPU tick in seconds: the resolution of cpuSeconds(). */
export const TICK_SECONDS = 1 / CLK_TCK;

/** utime + stime of `pid` in seconds (fields 14 and 15 of /proc/PID/stat). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after its ")" start at field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`);
  return (utime + stime) / CLK_TCK;
}

function statusField(pid: number, name: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
  const kib = Number(match?.[1]);
  if (!Number.isFinite(kib)) throw new Error(`no ${name} in /proc/${pid}/status`);
  return kib * 1024;
}

/** Resident memory of `pid` in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  return statusField(pid, 'VmRSS');
}

/** Total open descriptors of `pid`. */
export function fdTotal(pid: number): number {
  const kinds = fdKinds(pid);
  return kinds.sockets + kinds.pipes + kinds.other;
}

/** The descriptor limit (soft, hard) of `pid` from /proc/PID/limits. */
export function nofileLimit(pid: number): { soft: number; hard: number } {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const match = /^Max open files\s+(\d+)\s+(\d+)/m.exec(limits);
  const soft = Number(match?.[1]);
  const hard = Number(match?.[2]);
  if (!Number.isFinite(soft) || !Number.isFinite(hard)) throw new Error(`no "Max open files" in /proc/${pid}/limits`);
  return { soft, hard };
}

/**
 * Raises this test process's own descriptor limit (soft and hard) to at least `wanted`, with
 * prlimit(1) on our own pid. Returns undefined on success, else why not (for a skip).
 */
export function raiseOwnNofile(wanted: number): string | undefined {
  if (nofileLimit(process.pid).soft >= wanted) return undefined;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${wanted}:${wanted}`], { stdio: 'pipe' });
  } catch (error) {
    const stderr: unknown = typeof error === 'object' && error !== null ? Reflect.get(error, 'stderr') : undefined;
    const reason = (Buffer.isBuffer(stderr) ? stderr.toString('utf8') : String(error)).trim();
    return `prlimit could not raise this process's RLIMIT_NOFILE to ${wanted} (raising a hard limit needs CAP_SYS_RESOURCE): ${reason}`;
  }
  const now = nofileLimit(process.pid).soft;
  return now >= wanted ? undefined : `descriptor limit is ${now} after prlimit, wanted ${wanted}`;
}

/**
 * Runs `warmUp` (connections that load whatever a proxy creates lazily) and returns the
 * descriptors of `pid` once its sockets are back to what they were before the warm-up.
 */
export async function baselineAfter(pid: number, warmUp: () => Promise<unknown>): Promise<FdKinds> {
  const sockets = fdKinds(pid).sockets;
  await warmUp();
  await pollUntil(() => fdKinds(pid).sockets <= sockets, 10_000, `the warm-up connections to close (${sockets} sockets before)`);
  return fdKinds(pid);
}

/** Whether the descriptors of `pid` are back to `baseline`; pipes may exceed it by `poolFds`. */
export function atBaseline(pid: number, baseline: FdKinds, poolFds: number): boolean {
  const now = fdKinds(pid);
  return now.sockets <= baseline.sockets && now.other <= baseline.other && now.pipes <= baseline.pipes + poolFds;
}

/**
 * CPU seconds `pid` uses during the next `ms` milliseconds. A measurement window, not a wait
 * for an event: the claim checked ("does not spin") is about an interval with no events.
 */
export async function cpuDuring(pid: number, ms: number): Promise<number> {
  const before = cpuSeconds(pid);
  await delay(ms);
  return cpuSeconds(pid) - before;
}

/**
 * Watches `pid` from a worker thread (whose event loop is not the busy test's) and resolves with
 * the time (performance.timeOrigin + performance.now(), comparable across threads) at which it
 * became a zombie or vanished: the moment its exit, descriptor teardown included, was complete.
 */
export function watchExit(pid: number): { readonly at: Promise<number>; stop(): void } {
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { readFileSync } = require('node:fs');
    const tick = new Int32Array(new SharedArrayBuffer(4));
    const deadline = performance.now() + workerData.ms;
    for (;;) {
      let state = 'gone';
      try {
        const stat = readFileSync('/proc/' + workerData.pid + '/stat', 'utf8');
        state = stat.charAt(stat.lastIndexOf(')') + 2);
      } catch {}
      if (state === 'Z' || state === 'X' || state === 'gone' || performance.now() > deadline) {
        parentPort.postMessage(state === 'Z' || state === 'X' || state === 'gone' ? performance.timeOrigin + performance.now() : -1);
        break;
      }
      Atomics.wait(tick, 0, 0, 1);
    }`;
  const worker = new Worker(code, { eval: true, workerData: { pid, ms: 60_000 } });
  const at = new Promise<number>((resolve, reject) => {
    worker.once('message', (value: unknown) => {
      if (typeof value === 'number' && value > 0) resolve(value);
      else reject(new Error(`process ${pid} did not exit within the watch`));
    });
    worker.once('error', reject);
  });
  at.catch(() => undefined);
  return { at, stop: () => void worker.terminate() };
}
