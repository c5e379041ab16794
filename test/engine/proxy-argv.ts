// The argv dockerd gives docker-proxy, read back the way moby's checkProxies does
// (integration/networking/bridge_linux_test.go): parse the flags, compare the mappings.
// The exact element order is part of the contract too (portmapper/proxy_linux.go).

/** One mapping as a docker-proxy process's flags describe it. */
export interface ProxyArgs {
  readonly proto: string;
  readonly hostIp: string;
  readonly hostPort: number;
  readonly containerIp: string;
  readonly containerPort: number;
  readonly useListenFd: boolean;
}

/**
 * The flags after `proxyPath` in a process's argv, or undefined if the process does not run
 * that binary. A script proxy runs as `node <path> -proto …` (the kernel puts the interpreter
 * first), a Go one as `<path> -proto …`; both have the path right before the flags.
 */
export function proxyFlags(argv: readonly string[], proxyPath: string): readonly string[] | undefined {
  const at = argv.indexOf(proxyPath);
  return at < 0 ? undefined : argv.slice(at + 1);
}

/** Parses dockerd's flags: `-name value` pairs and a bare `-use-listen-fd`. Throws on anything else. */
export function parseProxyArgs(flags: readonly string[]): ProxyArgs {
  const values = new Map<string, string>();
  let useListenFd = false;
  for (let i = 0; i < flags.length; i += 1) {
    const flag = flags[i];
    if (flag === '-use-listen-fd') { useListenFd = true; continue; }
    const value = flags[i + 1];
    if (flag === undefined || !/^-[a-z-]+$/.test(flag) || value === undefined) {
      throw new Error(`unexpected docker-proxy argv: ${flags.join(' ')}`);
    }
    values.set(flag.slice(1), value);
    i += 1;
  }
  const text = (name: string): string => {
    const value = values.get(name);
    if (value === undefined) throw new Error(`docker-proxy argv has no -${name}: ${flags.join(' ')}`);
    return value;
  };
  const port = (name: string): number => {
    const value = text(name);
    if (!/^[0-9]+$/.test(value)) throw new Error(`-${name} ${value} is not a decimal port`);
    return Number(value);
  };
  return {
    proto: text('proto'), hostIp: text('host-ip'), hostPort: port('host-port'),
    containerIp: text('container-ip'), containerPort: port('container-port'), useListenFd,
  };
}

/** The argv dockerd builds for a mapping: exactly these elements, in this order. */
export function expectedFlags(args: ProxyArgs): string[] {
  const flags = [
    '-proto', args.proto, '-host-ip', args.hostIp, '-host-port', String(args.hostPort),
    '-container-ip', args.containerIp, '-container-port', String(args.containerPort),
  ];
  return args.useListenFd ? [...flags, '-use-listen-fd'] : flags;
}

/** checkProxies' key for a mapping: `hostIP:hostPort/proto <-> ctrIP:ctrPort`. */
export function mappingKey(args: ProxyArgs): string {
  return `${args.hostIp}:${args.hostPort}/${args.proto} <-> ${args.containerIp}:${args.containerPort}`;
}
