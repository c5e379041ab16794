// iperf3 as the TCP bulk load: a server on the backend port, one client run per measurement.
import { osChosenPort } from '../../test/helpers/ports.ts';
import { LOOPBACK } from '../../test/helpers/net.ts';
import { type Tracked, runToEnd, startTracked, stopTracked } from './procs.ts';
import { untilListening } from './wait.ts';

/** A running iperf3 server. */
export interface IperfServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts `iperf3 -s` on `port`, or on an OS-chosen one. */
export async function startIperfServer(chosen?: number): Promise<IperfServer> {
  const port = chosen ?? await osChosenPort('tcp+udp', LOOPBACK.v4);
  const proc: Tracked = startTracked('iperf3', ['-s', '-B', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await untilListening(proc, 'tcp', port, 'iperf3 -s');
  return { port, stop: async () => { await stopTracked(proc, 'SIGTERM'); } };
}

/** What the receiving side counted (and what the sender wrote). */
export interface BulkResult {
  readonly bytes: number;
  /** Bytes the client wrote: more than `bytes` by what was in flight when the test ended. */
  readonly sentBytes: number;
  readonly seconds: number;
  readonly bitsPerSecond: number;
}

function numberAt(value: unknown, ...path: string[]): number {
  let at: unknown = value;
  for (const key of path) at = typeof at === 'object' && at !== null ? Reflect.get(at, key) : undefined;
  if (typeof at !== 'number' || !Number.isFinite(at)) throw new Error(`iperf3 JSON has no number at ${path.join('.')}`);
  return at;
}

/** One TCP test of `seconds` with `streams` parallel streams against 127.0.0.1:port. */
export async function runIperfTcp(port: number, seconds: number, streams: number): Promise<BulkResult> {
  const args = ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-P', String(streams), '-J',
    '--connect-timeout', '5000'];
  const result = await runToEnd('iperf3', args, (seconds + 30) * 1000);
  let json: unknown;
  try {
    json = JSON.parse(result.stdout);
  } catch {
    throw new Error(`iperf3 gave no JSON (status ${String(result.code)}): ${result.stderr.slice(-500)}`);
  }
  const error = typeof json === 'object' && json !== null ? Reflect.get(json, 'error') : undefined;
  if (typeof error === 'string') throw new Error(`iperf3: ${error}`);
  return {
    bytes: numberAt(json, 'end', 'sum_received', 'bytes'),
    sentBytes: numberAt(json, 'end', 'sum_sent', 'bytes'),
    seconds: numberAt(json, 'end', 'sum_received', 'seconds'),
    bitsPerSecond: numberAt(json, 'end', 'sum_received', 'bits_per_second'),
  };
}
