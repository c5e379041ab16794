// Starting a proxy for a mapping in either of dockerd's two ways: fallback (the proxy binds
// the host port itself, the only way 20.10 knows) or fd mode (-use-listen-fd, socket on fd 4).
import { type Proto, bindUdp, listenTcp, portOf } from './net.ts';
import { type ProxyProcess, startProxy } from './spawn-proxy.ts';
import { needs } from './target.ts';
import { reservePort } from './ports.ts';

export type Mode = 'fallback' | 'fd';

/** Both modes, with the skip that applies to each, for table-driven tests. */
export const MODES: ReadonlyArray<{ readonly mode: Mode; readonly options: { skip?: string } }> = [
  { mode: 'fallback', options: {} },
  { mode: 'fd', options: needs('listen-fd') },
];

export interface MappedProxy {
  readonly proxy: ProxyProcess;
  /** The host port clients connect to. */
  readonly hostPort: number;
}

export interface MapOptions {
  readonly proto: Proto;
  readonly mode: Mode;
  readonly hostIp: string;
  readonly containerIp: string;
  readonly containerPort: number;
  /** Where the fd-mode socket binds when it differs from hostIp (e.g. '::' for dual stack). */
  readonly bindIp?: string;
  /** For a dual-stack fd-mode TCP listener on '::'. */
  readonly ipv6Only?: boolean;
  readonly env?: Readonly<Record<string, string>>;
}

/** Starts a proxy for the mapping and waits for "0\n" on fd 3. */
export async function startMapped(o: MapOptions): Promise<MappedProxy> {
  const base = { proto: o.proto, hostIp: o.hostIp, containerIp: o.containerIp, containerPort: o.containerPort };
  const env = o.env === undefined ? {} : { env: o.env };
  if (o.mode === 'fallback') {
    const hostPort = await reservePort(o.proto, o.hostIp);
    return { proxy: await startProxy({ ...base, hostPort }, env), hostPort };
  }
  const bindIp = o.bindIp ?? o.hostIp;
  const listenSocket = o.proto === 'tcp'
    ? await listenTcp({ host: bindIp, ipv6Only: o.ipv6Only })
    : await bindUdp(bindIp);
  const hostPort = portOf(listenSocket);
  return { proxy: await startProxy({ ...base, hostPort, listenSocket }, env), hostPort };
}
