// Chooses how TCP bytes move: the splice(2) addon (zero-copy, Linux) or the stream relay.
import type { DataPathPreference } from './config.js';
import { ConfigError } from './errors.js';
import type { StartRelay } from './relay.js';
import { spliceAvailable, startSpliceRelay } from './splice.js';
import { startStreamRelay } from './stream-relay.js';

/** The chosen TCP data path, and why when it is not the preferred one. */
export interface DataPath {
  readonly name: 'splice' | 'stream';
  readonly startRelay: StartRelay;
  /** Why splice is not used, when it was wanted ('auto') but is unavailable. */
  readonly fallbackReason?: string;
}

/** Picks the data path; asking for splice where it cannot load is a start-up error. */
export function chooseDataPath(preference: DataPathPreference): DataPath {
  if (preference === 'stream') return { name: 'stream', startRelay: startStreamRelay };
  const splice = spliceAvailable();
  if (splice.ok) return { name: 'splice', startRelay: startSpliceRelay };
  if (preference === 'splice') throw new ConfigError(`data path splice is unavailable: ${splice.reason}`);
  return { name: 'stream', startRelay: startStreamRelay, fallbackReason: splice.reason };
}
