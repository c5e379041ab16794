// Sizes of the fault suite. The short version runs inside `npm test` (about 3 minutes for all of
// test/fault); FAULT_LONG=1 (`npm run test:fault`) runs the sizes the brief names, e.g. the
// 30,000 sequential connections of moby#47537.
import { DEEP_BACKLOG, type TcpBackendOptions } from '../../helpers/backends.ts';

/** True for the long run (FAULT_LONG=1). */
export const LONG = process.env['FAULT_LONG'] === '1';

/** Picks the short or the long value of a size. */
export function size<T>(short: T, long: T): T {
  return LONG ? long : short;
}

/** The two TCP data paths; every TCP case runs against both (DOCKER_PROXY_DATA_PATH). */
export const DATA_PATHS = ['splice', 'stream'] as const;
export type DataPathName = (typeof DATA_PATHS)[number];

/** Loopback only: traffic never leaves the machine. */
export const V4 = '127.0.0.1';

export const MiB = 1024 * 1024;

/** The fault suite's containers: a deep backlog (bursts of connections) and no Nagle delay (latencies are measured). */
export const CONTAINER: TcpBackendOptions = { backlog: DEEP_BACKLOG, noDelay: true };
