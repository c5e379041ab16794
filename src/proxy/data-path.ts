// The one data-path choice of the process, for both protocols: the native addons (splice(2) for
// TCP, native/udp/ for UDP), the JS paths, or the native ones wherever they load.
import type { DataPathChoice } from '../config.js';
import { ConfigError } from '../errors.js';
import type { UdpPath } from './contract.js';
import type { StartRelay } from './tcp/relay.js';
import { spliceAvailable, startSpliceRelay } from './tcp/splice-relay.js';
import { startStreamRelay } from './tcp/stream-relay.js';
import { udpNativeAvailable } from './udp/native-udp-proxy.js';

/** The chosen TCP relay, and why when it is not the preferred one. */
export interface TcpPath {
  /** The relay's own name, as build_info's data_path label shows it. */
  readonly name: 'splice' | 'stream';
  readonly startRelay: StartRelay;
  /** Why splice is not used, when it was wanted ('auto') but is unavailable. */
  readonly fallbackReason?: string;
}

/** Picks the TCP relay; asking for the native path where splice cannot load is a start-up error. */
export function chooseTcpPath(choice: DataPathChoice): TcpPath {
  if (choice.path === 'js') return { name: 'stream', startRelay: startStreamRelay };
  const splice = spliceAvailable();
  if (splice.ok) return { name: 'splice', startRelay: startSpliceRelay };
  if (choice.path === 'native') throw new ConfigError(`data path ${choice.spelled} is unavailable: ${splice.reason}`);
  return { name: 'stream', startRelay: startStreamRelay, fallbackReason: splice.reason };
}

/** Picks the UDP implementation, with the same rule as chooseTcpPath. */
export function chooseUdpPath(choice: DataPathChoice): UdpPath {
  if (choice.path === 'js') return { name: 'js' };
  const native = udpNativeAvailable();
  if (native.ok) return { name: 'native' };
  if (choice.path === 'native') throw new ConfigError(`data path ${choice.spelled} is unavailable for UDP: ${native.reason}`);
  return { name: 'js', fallbackReason: native.reason };
}
