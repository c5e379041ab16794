// wrk as the HTTP load: requests/s and the p99 latency of its --latency report.
import { runToEnd } from './procs.ts';

export interface HttpResult {
  readonly requestsPerSecond: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** connect + read + write + timeout socket errors, plus non-2xx/3xx responses. */
  readonly errors: number;
}

const UNIT_MS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function match(text: string, pattern: RegExp, what: string): RegExpExecArray {
  const found = pattern.exec(text);
  if (found === null) throw new Error(`wrk output has no ${what}:\n${text.slice(0, 1500)}`);
  return found;
}

/** Parses wrk's text report. */
export function parseWrk(text: string): HttpResult {
  const rps = Number(match(text, /^Requests\/sec:\s+([\d.]+)/m, 'Requests/sec')[1]);
  const p99 = match(text, /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m, '99% latency');
  const requests = Number(match(text, /^\s+(\d+) requests in /m, 'request count')[1]);
  const sockets = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const errors = (sockets === null ? 0 : sockets.slice(1).reduce((sum, each) => sum + Number(each), 0))
    + Number(non2xx?.[1] ?? 0);
  return { requestsPerSecond: rps, p99Ms: Number(p99[1]) * (UNIT_MS[p99[2] ?? 'ms'] ?? 1), requests, errors };
}

/** Runs wrk with `connections` connections for `seconds` against `url`. */
export async function runWrk(url: string, seconds: number, connections: number, closeEach: boolean): Promise<HttpResult> {
  const args = ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', '--timeout', '5s'];
  if (closeEach) args.push('-H', 'Connection: close');
  const result = await runToEnd('wrk', [...args, url], (seconds + 30) * 1000);
  if (result.code !== 0) throw new Error(`wrk failed (status ${String(result.code)}): ${result.stderr.slice(-500)}`);
  return parseWrk(result.stdout);
}
