// Per-process costs read from /proc: CPU time, PSS and context switches. A proxy may be a tree
// (socat forks a child per connection), so the readers cover a process and its descendants.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** USER_HZ: the unit of utime/stime in /proc/PID/stat; 100 on every Linux ABI Node runs on. */
const CLOCK_TICKS_PER_S = 100;

interface Stat {
  readonly ppid: number;
  /** utime + stime of the process itself. */
  readonly selfTicks: number;
  /** cutime + cstime: children that have exited and been reaped. */
  readonly reapedTicks: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name may contain spaces and ')': the fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const at = (field: number): number => Number(fields[field - 3]);
  return { ppid: at(4), selfTicks: at(14) + at(15), reapedTicks: at(16) + at(17) };
}

/** Live descendants of `pid`, found by walking ppid links (no /proc/PID/task/TID/children here). */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const child = Number(name);
    if (!Number.isInteger(child)) continue;
    const stat = readStat(child);
    if (stat === undefined) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(child);
    children.set(stat.ppid, list);
  }
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const list = children.get(next) ?? [];
    found.push(...list);
    queue.push(...list);
  }
  return found;
}

/**
 * CPU seconds used by `pid` and all its descendants so far: its own utime+stime, what its
 * reaped children left in cutime+cstime, and the live descendants' own times. Exact when no
 * child exits during the read, which is why callers let the tree settle first.
 */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const child of descendants(pid)) ticks += readStat(child)?.selfTicks ?? 0;
  const own = readStat(pid);
  if (own === undefined) throw new Error(`process ${pid} is gone`);
  return (ticks + own.selfTicks + own.reapedTicks) / CLOCK_TICKS_PER_S;
}

/** Waits until the number of descendants stops changing (children exiting and being reaped). */
export async function settleTree(pid: number, maxMs = 3000): Promise<void> {
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    const count = descendants(pid).length;
    if (count !== last) {
      last = count;
      stableSince = Date.now();
    } else if (count === 0 || Date.now() - stableSince >= 300) {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function smapsField(pid: number, field: string): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return 0;
  }
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
}

/** Memory of `pid` and its descendants, in bytes. */
export interface TreeMemory {
  /** Proportional set size: shared pages split between the processes that map them. */
  readonly pss: number;
  /** Private_Clean + Private_Dirty: pages no other process maps. */
  readonly private: number;
}

/** Memory of `pid` alone: for many processes known not to fork, without a /proc walk per process. */
export function ownMemory(pid: number): TreeMemory {
  return { pss: smapsField(pid, 'Pss'), private: smapsField(pid, 'Private_Clean') + smapsField(pid, 'Private_Dirty') };
}

export function treeMemory(pid: number): TreeMemory {
  let pss = 0;
  let own = 0;
  for (const each of [pid, ...descendants(pid)]) {
    pss += smapsField(each, 'Pss');
    own += smapsField(each, 'Private_Clean') + smapsField(each, 'Private_Dirty');
  }
  return { pss, private: own };
}

/** Context switches summed over all threads of `pid` (status of the leader counts only itself). */
export function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  let voluntary = 0;
  let involuntary = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue;
    }
    voluntary += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1] ?? 0);
    involuntary += Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1] ?? 0);
  }
  return { voluntary, involuntary };
}

/** Number of threads of `pid`. */
export function threadCount(pid: number): number {
  return readdirSync(`/proc/${pid}/task`).length;
}

/** Open fds of `pid` and its descendants: all of them, and those that are sockets. */
export function treeFds(pid: number): { all: number; sockets: number } {
  let all = 0;
  let sockets = 0;
  for (const each of [pid, ...descendants(pid)]) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${each}/fd`);
    } catch {
      continue;
    }
    all += fds.length;
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${each}/fd/${fd}`).startsWith('socket:')) sockets += 1;
      } catch {
        // Closed between readdir and readlink.
      }
    }
  }
  return { all, sockets };
}

/**
 * Kernel memory of the whole machine, in bytes: slab (sockets, pipe buffer rings...), kernel
 * stacks and page tables from /proc/meminfo. System-wide, so other activity shows up as noise.
 */
export function kernelMemoryBytes(): number {
  const text = readFileSync('/proc/meminfo', 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return (kib('Slab') + kib('KernelStack') + kib('PageTables')) * 1024;
}
