// The native UDP data path (native/udp/): the frontend socket, the per-client backend sockets and
// the flow table all live in the addon, which moves datagrams in batches (recvmmsg/sendmmsg) with
// no JS per datagram, and answers each client from the address it sent to (IP_PKTINFO), as
// docker-proxy v28+ does. This is the only module that loads the addon; udp-proxy.ts is the JS fallback.
import { hasMethods, loadAddon, type Loaded } from '../addon.js';
import { count, countEntries, countField, field } from '../addon-result.js';
import { formatHostPort, type Endpoint } from '../../config.js';
import { ListenError, describeError, errnoName, errnoText, listenError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Proxy, UdpSnapshot } from '../contract.js';
import { Throttle } from '../throttle.js';

type OnWarn = (kind: unknown, errno: unknown) => void;

/** What open() takes: the frontend to bind (or the socket to adopt), the backend, the flow limits. */
interface OpenOptions {
  /** The engine's bound socket to adopt (-use-listen-fd), or -1 to bind host:port. */
  readonly listenFd: number;
  readonly family: 4 | 6;
  readonly host: string;
  readonly port: number;
  readonly backendHost: string;
  readonly backendPort: number;
  readonly idleTimeoutMs: number;
  readonly maxFlows: number;
  readonly onWarn: OnWarn;
}

/** The addon's exports; every result is checked at run time before use. */
interface UdpAddon {
  open(options: OpenOptions): unknown;
}

interface NativeHandle {
  /** Counters by name (native/udp/counters.h), read with addon-result.ts. */
  stats(): unknown;
  port(): unknown;
  close(): unknown;
}

const LISTEN_FD = 4;

let loaded: Loaded<UdpAddon> | undefined;

function isUdpAddon(value: unknown): value is UdpAddon {
  return hasMethods(value, 'open');
}

function isNativeHandle(value: unknown): value is NativeHandle {
  return hasMethods(value, 'stats', 'port', 'close');
}

function load(): Loaded<UdpAddon> {
  loaded ??= loadAddon({ file: 'udp_proxy', name: 'UDP addon', linuxOnly: 'the native UDP path is Linux-only', isAddon: isUdpAddon });
  return loaded;
}

/** Whether UDP mappings can use the native path; if not, why (they then use udp-proxy.ts). */
export function udpNativeAvailable(): { ok: true } | { ok: false; reason: string } {
  const result = load();
  return result.ok ? { ok: true } : { ok: false, reason: result.reason };
}

export interface NativeUdpOptions {
  readonly frontend: Endpoint;
  /** Adopt the socket on fd 4 (-use-listen-fd) instead of binding frontend.host:port. */
  readonly useListenFd: boolean;
  readonly backend: Endpoint;
  readonly idleTimeoutMs: number;
  readonly maxFlows: number;
  readonly log: Logger;
}

/** A Node-style system error (code, errno, syscall), so errors.ts can word it as for dgram. */
function systemError(failure: unknown): Error {
  const errno = field(failure, 'errno');
  const syscall = field(failure, 'syscall');
  const message = field(failure, 'message');
  const code = typeof errno === 'number' && errno > 0 ? errnoName(errno) : 'EINVAL';
  const error = new Error(typeof message === 'string' ? message : 'the addon returned no proxy');
  return Object.assign(error, { code, errno: typeof errno === 'number' ? -errno : 0, syscall: typeof syscall === 'string' ? syscall : 'open' });
}

/** The docker-proxy error for a frontend the addon could not open. */
function openError(options: NativeUdpOptions, failure: unknown): ListenError {
  const cause = systemError(failure);
  const syscall = Reflect.get(cause, 'syscall');
  if (options.useListenFd) return new ListenError(`unexpected socket type for listener fd: ${cause.message}`, { cause });
  if (syscall === 'setsockopt') return new ListenError(`${cause.message}: ${describeError(cause)}`, { cause });
  return listenError('udp', options.frontend, cause);
}

/** The drop counts of stats() keyed as the metrics label them: a reason, or the errno's code name. */
function droppedByReason(stats: unknown): Record<string, number> {
  const dropped: Record<string, number> = {};
  // Only reasons that happened, as the JS path reports them (a zero would add a metric series).
  const add = (reason: string, n: number): void => {
    if (n > 0) dropped[reason] = (dropped[reason] ?? 0) + n;
  };
  add('truncated', countField(stats, 'droppedTruncated'));
  add('send_queue_full', countField(stats, 'droppedSendQueueFull'));
  for (const [key, n] of countEntries(field(stats, 'droppedByErrno'))) {
    const errno = Number(key);
    add(Number.isInteger(errno) && errno > 0 ? errnoName(errno) : 'unknown', n);
  }
  return dropped;
}

/** Opens the frontend natively and starts forwarding; throws a ListenError as openUdpSocket does. */
export function openNativeUdpProxy(options: NativeUdpOptions): NativeUdpProxy {
  const result = load();
  if (!result.ok) throw new ListenError(`native UDP path unavailable: ${result.reason}`);
  const { frontend, backend } = options;
  const proxy = new NativeUdpProxy(options);
  const handle = result.addon.open({
    listenFd: options.useListenFd ? LISTEN_FD : -1,
    family: frontend.family,
    host: frontend.host,
    port: frontend.port,
    backendHost: backend.host,
    backendPort: backend.port,
    idleTimeoutMs: Math.max(1, Math.ceil(options.idleTimeoutMs)),
    maxFlows: options.maxFlows,
    onWarn: (kind, errno) => proxy.warn(kind, errno),
  });
  if (!isNativeHandle(handle)) throw openError(options, handle);
  proxy.attach(handle);
  return proxy;
}

/** A UDP mapping served by the addon; the same Proxy contract and snapshot as UdpProxy. */
export class NativeUdpProxy implements Proxy {
  readonly #backendText: string;
  readonly #log: Logger;
  readonly #throttle = new Throttle();
  #handle: NativeHandle | undefined;
  #closed = false;

  constructor(options: NativeUdpOptions) {
    this.#backendText = formatHostPort(options.backend.host, options.backend.port);
    this.#log = options.log;
  }

  /** Called once by openNativeUdpProxy. */
  attach(handle: NativeHandle): void {
    this.#handle = handle;
  }

  /** The port the frontend socket is bound to (useful when it was asked for port 0). */
  get port(): number {
    return count(this.#handle?.port());
  }

  get activeFlows(): number {
    return this.snapshot().flowsActive;
  }

  snapshot(): UdpSnapshot & { readonly flowsExpired: { readonly closed: number } } {
    const stats = this.#handle?.stats();
    const at = (name: string): number => countField(stats, name);
    return {
      proto: 'udp',
      datagramsToContainer: at('datagramsToContainer'),
      datagramsToHost: at('datagramsToHost'),
      bytesToContainer: at('bytesToContainer'),
      bytesToHost: at('bytesToHost'),
      flowsTotal: at('flowsTotal'),
      flowsActive: at('flowsActive'),
      flowsExpired: { idle: at('flowsExpiredIdle'), evicted: at('flowsExpiredEvicted'), closed: at('flowsExpiredClosed') },
      dropped: droppedByReason(stats),
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle?.close();
  }

  /** The addon's report of a failure (already rate-limited natively); logged like udp-proxy.ts does. */
  warn(kind: unknown, errno: unknown): void {
    const code = typeof errno === 'number' && errno > 0 ? errnoName(errno) : 'EIO';
    const key = `${typeof kind === 'string' ? kind : 'unknown'}:${code}`;
    const suppressed = this.#throttle.admit(key);
    if (suppressed === undefined || this.#closed) return;
    const text = errnoText(code);
    const message = kind === 'reply'
      ? `Can't send a reply to a udp client (flow closed): ${text}`
      : kind === 'frontend' ? `udp frontend socket error: ${text}` : `Can't proxy a datagram to udp/${this.#backendText}: ${text}`;
    this.#log.warn({ err: text, code, suppressed }, message);
  }
}
