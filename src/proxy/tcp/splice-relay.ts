// The zero-copy data path: the native splice(2) addon (native/splice.cc) moves bytes between the
// two sockets with no per-chunk JS work: small messages with one recv + one send, bulk flows through
// a kernel pipe with splice(2), taken only while the flow lasts. This is the only module that loads
// the addon. A connection the addon cannot take (no addon, EMFILE on dup...) gets the stream relay;
// a pipe2 failure later on only makes that direction copy instead of splice.
import type { Socket } from 'node:net';
import { getSystemErrorName } from 'node:util';
import { hasMethods, loadAddon, type Loaded } from '../addon.js';
import { countField } from '../addon-result.js';
import type { Relay, RelayStats, StartRelay } from './relay.js';
import { startStreamRelay } from './stream-relay.js';

/** `totals` is what stats() returns at the end: { hostToContainer, containerToHost }. */
type OnDone = (errno: unknown, syscall: unknown, totals: unknown) => void;

/** The addon's exports; every result is checked at run time before use. */
interface SpliceAddon {
  start(clientFd: number, backendFd: number, onDone: OnDone): unknown;
  configure(pipeSize: number, poolSize: number): unknown;
  info(): unknown;
}

interface NativeRelay {
  /** { hostToContainer, containerToHost }: bytes read from the client and from the backend. */
  stats(): unknown;
  abort(): unknown;
}

/** Tuning of the splice path. */
export interface SpliceSettings {
  /** Capacity asked for each pipe (clamped to /proc/sys/fs/pipe-max-size). */
  readonly pipeSizeBytes: number;
  /** Idle pipes kept for reuse by later bulk flows (2 fds each). */
  readonly poolSize: number;
}

/** What the addon reports about itself. */
export interface SpliceInfo extends SpliceSettings {
  /** Relays whose native side has not finished yet. */
  readonly live: number;
  /** Idle pipes in the pool. */
  readonly pooled: number;
  readonly pipeMaxSizeBytes: number;
  /** Pipes held by live relays: one per direction that is splicing a bulk flow right now. */
  readonly pipesInUse: number;
  /** Times pipe2 failed (EMFILE...) for a bulk flow, which then went on by copying. */
  readonly pipeFailures: number;
  /** Bytes read with recv() in copy mode (small messages), by all relays so far. */
  readonly copiedBytes: number;
  /** Bytes read with splice() into a pipe (bulk flows), by all relays so far. */
  readonly splicedBytes: number;
}

/**
 * Defaults measured with bench/splice-micro.ts (iperf3 through the proxy on loopback): 1 MiB pipes
 * cost the least CPU per GiB (64 KiB: +25-30 %). Pipes are taken per bulk flow, not per connection,
 * so a pool of 16 idle pipes (32 fds) lets bulk flows come and go without pipe2 and F_SETPIPE_SZ.
 */
export const SPLICE_PIPE_SIZE_BYTES = 1 << 20;
export const SPLICE_POOL_SIZE = 16;

let loaded: Loaded<SpliceAddon> | undefined;
let fallbacks = 0;
let lastReason: string | undefined;

function isSpliceAddon(value: unknown): value is SpliceAddon {
  return hasMethods(value, 'start', 'configure', 'info');
}

function isNativeRelay(value: unknown): value is NativeRelay {
  return hasMethods(value, 'stats', 'abort');
}

function load(): Loaded<SpliceAddon> {
  if (loaded !== undefined) return loaded;
  loaded = loadAddon({ file: 'splice', name: 'splice addon', linuxOnly: 'splice(2) is Linux-only', isAddon: isSpliceAddon });
  if (loaded.ok) loaded.addon.configure(SPLICE_PIPE_SIZE_BYTES, SPLICE_POOL_SIZE);
  return loaded;
}

/** Whether connections will be spliced; if not, why (they then use the stream relay). */
export function spliceAvailable(): { ok: true } | { ok: false; reason: string } {
  const result = load();
  return result.ok ? { ok: true } : { ok: false, reason: result.reason };
}

function toInfo(value: unknown): SpliceInfo {
  return {
    live: countField(value, 'live'),
    pooled: countField(value, 'pooled'),
    pipeSizeBytes: countField(value, 'pipeSize'),
    poolSize: countField(value, 'poolSize'),
    pipeMaxSizeBytes: countField(value, 'pipeMaxSize'),
    pipesInUse: countField(value, 'pipesInUse'),
    pipeFailures: countField(value, 'pipeFailures'),
    copiedBytes: countField(value, 'copiedBytes'),
    splicedBytes: countField(value, 'splicedBytes'),
  };
}

/** The relay's totals object (stats(), onDone) as RelayStats. */
function toRelayStats(value: unknown): RelayStats {
  return { hostToContainer: countField(value, 'hostToContainer'), containerToHost: countField(value, 'containerToHost') };
}

/** Sets pipe size and pool size for connections started from now on; undefined without the addon. */
export function configureSplice(settings: SpliceSettings): SpliceInfo | undefined {
  const result = load();
  return result.ok ? toInfo(result.addon.configure(settings.pipeSizeBytes, settings.poolSize)) : undefined;
}

/** Addon state (live relays, pipes, effective sizes, counters); undefined without the addon. */
export function spliceInfo(): SpliceInfo | undefined {
  const result = load();
  return result.ok ? toInfo(result.addon.info()) : undefined;
}

/**
 * Connections handed to the stream relay although the addon is loaded, and why the last one was
 * (for example "fcntl: EMFILE").
 */
export function spliceFallbacks(): { count: number; lastReason: string | undefined } {
  return { count: fallbacks, lastReason };
}

function fallBack(client: Socket, backend: Socket, reason: string): Relay {
  fallbacks += 1;
  lastReason = reason;
  return startStreamRelay(client, backend);
}

function describeFailure(failure: unknown): string {
  if (typeof failure !== 'object' || failure === null) return 'the addon returned no relay';
  const errno: unknown = Reflect.get(failure, 'errno');
  const syscall: unknown = Reflect.get(failure, 'syscall');
  const code = typeof errno === 'number' && errno > 0 ? getSystemErrorName(-errno) : 'unknown error';
  return `${typeof syscall === 'string' ? syscall : 'start'}: ${code}`;
}

function ignoreError(): void {}

/** The fd libuv opened for a socket: `socket._handle.fd`, undocumented but stable (-1 if closed). */
function socketFd(socket: Socket): number {
  if (!('_handle' in socket)) return -1;
  const handle = socket._handle;
  if (typeof handle !== 'object' || handle === null || !('fd' in handle)) return -1;
  const fd = handle.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : -1;
}

/**
 * startSpliceRelay moves bytes with splice(2) when it can, else with the stream relay. The JS
 * sockets stay paused throughout (libuv never reads them); the addon polls dup()s of their fds
 * and, once both directions are over, both sockets are destroyed.
 */
export const startSpliceRelay: StartRelay = (client, backend) => {
  const result = load();
  const clientFd = socketFd(client);
  const backendFd = socketFd(backend);
  if (!result.ok) return startStreamRelay(client, backend);
  if (clientFd < 0 || backendFd < 0) return fallBack(client, backend, 'socket has no fd');
  let final: RelayStats | undefined;
  let resolveDone: (totals: RelayStats) => void = () => {};
  const done = new Promise<RelayStats>((resolve) => {
    resolveDone = resolve;
  });
  // Counted from our own 'close' listeners: socket.closed turns true before the fd is closed.
  let open = 2;
  const onClose = (): void => {
    open -= 1;
    settle();
  };
  const settle = (): void => {
    if (open > 0 || final === undefined) return;
    client.off('error', ignoreError);
    backend.off('error', ignoreError);
    resolveDone(final);
  };
  const onDone: OnDone = (_errno, _syscall, totals) => {
    // How the relay ended (errno, syscall) is not part of the Relay contract: resets are routine.
    final = toRelayStats(totals);
    client.destroy();
    backend.destroy();
    settle();
  };
  const native = result.addon.start(clientFd, backendFd, onDone);
  if (!isNativeRelay(native)) {
    // A failed start has not touched the sockets (still paused; the addon closes its own dups),
    // so the stream relay can take this connection.
    return fallBack(client, backend, describeFailure(native));
  }
  // Nothing is read or written through the JS sockets, so no error is expected on them; one must
  // still never go unhandled.
  client.on('error', ignoreError);
  backend.on('error', ignoreError);
  client.once('close', onClose);
  backend.once('close', onClose);
  return {
    done,
    stats(): RelayStats {
      return final ?? toRelayStats(native.stats());
    },
    destroy(): void {
      // The addon stops polling now and calls onDone from its close callback. Destroying the JS
      // sockets at once is safe: the connection lives until the addon also closes its dups.
      native.abort();
      client.destroy();
      backend.destroy();
    },
  };
};
