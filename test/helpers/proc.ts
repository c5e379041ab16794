// Kernel-side observations that no socket event reports: a process's open fds and credentials, listen
// backlogs and ICMP counters. Callers poll these with pollUntil and a deadline.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** Number of open fds of `pid` (entries of /proc/<pid>/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Open fds of a process by kind (what their /proc/<pid>/fd link names). */
export interface FdKinds { readonly sockets: number; readonly pipes: number; readonly other: number }

/** Counts the open fds of `pid` by kind: sockets, pipes, and everything else. */
export function fdKinds(pid: number): FdKinds {
  let sockets = 0;
  let pipes = 0;
  let other = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed between readdir and readlink: not open any more
    }
    if (link.startsWith('socket:')) sockets += 1;
    else if (link.startsWith('pipe:')) pipes += 1;
    else other += 1;
  }
  return { sockets, pipes, other };
}

/** Whether `pid` is still alive (and not a zombie). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 is the state; it follows the ")" that closes the command name.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The listen backlog of the TCP socket listening on `port`, as `ss -ltn` shows it in Send-Q,
 * or undefined when nothing listens there.
 */
export function listenBacklog(port: number): number | undefined {
  const out = execFileSync('ss', ['-ltnH', `sport = :${port}`], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.startsWith('LISTEN'));
  if (line === undefined) return undefined;
  const sendQ = line.trim().split(/\s+/)[2];
  return sendQ === undefined ? undefined : Number(sendQ);
}

/**
 * IPv4 "destination unreachable" messages received so far in this network namespace
 * (Icmp InDestUnreachs in /proc/net/snmp). A datagram sent on loopback to a port where
 * nothing listens adds one, so polling this tells when the proxy has met ECONNREFUSED.
 */
export function icmpInDestUnreachs(): number {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Icmp:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const value = values[names.indexOf('InDestUnreachs')];
  if (value === undefined) throw new Error('no Icmp InDestUnreachs in /proc/net/snmp');
  return Number(value);
}

/** The fields of one /proc/PID/task/TID/status that say what the thread holds. */
export interface ThreadCreds {
  readonly uid: string;
  readonly gid: string;
  readonly groups: string;
  readonly capInh: bigint;
  readonly capPrm: bigint;
  readonly capEff: bigint;
  readonly capBnd: bigint;
  readonly capAmb: bigint;
  readonly noNewPrivs: string;
  readonly seccomp: string;
}

export function parseStatus(text: string): ThreadCreds {
  const field = (name: string): string => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const mask = (name: string): bigint => BigInt(`0x${field(name) || '0'}`);
  return {
    uid: field('Uid').split(/\s+/).join(' '), gid: field('Gid').split(/\s+/).join(' '), groups: field('Groups'),
    capInh: mask('CapInh'), capPrm: mask('CapPrm'), capEff: mask('CapEff'), capBnd: mask('CapBnd'), capAmb: mask('CapAmb'),
    noNewPrivs: field('NoNewPrivs'), seccomp: field('Seccomp'),
  };
}

/** Every thread of `pid`, main thread first. */
export function threads(pid: number): ThreadCreds[] {
  const ids = readdirSync(`/proc/${pid}/task`).map(Number).sort((a, b) => (a === pid ? -1 : b === pid ? 1 : a - b));
  return ids.map((tid) => parseStatus(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')));
}
