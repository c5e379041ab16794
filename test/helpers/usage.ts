// The usage text Go's flag package prints for docker-proxy (docs/design/engine-contract.md §1.3), per version.
import { PROXY_BIN } from './target.ts';

/** The flag entries of the newest docker-proxy, in Go's PrintDefaults layout. */
const NEW_ENTRIES = `  -container-ip value
    \tcontainer ip (default 0.0.0.0)
  -container-port int
    \tcontainer port (default -1)
  -host-ip value
    \thost ip (default 0.0.0.0)
  -host-port int
    \thost port (default -1)
  -proto string
    \tproxy protocol (default "tcp")
  -use-listen-fd
    \tuse a supplied listen fd
  -v\tprint version information and quit
  -version
    \tprint version information and quit
`;

/** 20.10: string IP flags without defaults, and no -use-listen-fd, -v or -version. */
const REF_ENTRIES = `  -container-ip string
    \tcontainer ip
  -container-port int
    \tcontainer port (default -1)
  -host-ip string
    \thost ip
  -host-port int
    \thost port (default -1)
  -proto string
    \tproxy protocol (default "tcp")
`;

/** First line of the usage: dockerd runs the proxy with its full path as argv[0]. */
export const USAGE_HEAD = `Usage of ${PROXY_BIN}:\n`;

/** The newest docker-proxy's full usage; ours must start with it (it may list more flags after). */
export const NEW_USAGE = USAGE_HEAD + NEW_ENTRIES;

/** docker-proxy 20.10's complete usage. */
export const REF_USAGE = USAGE_HEAD + REF_ENTRIES;
