// Which docker-proxy binary the black-box suite runs, and what that binary can do.
// The suite is meant to run against ANY docker-proxy: ours (the default) or a reference build.
// Every "this binary lacks X" decision lives here, so a test file only ever says which
// capability it needs and never compares version strings itself.
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of the repository root (two levels above this file). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const DEFAULT_BIN = fileURLToPath(new URL('../../dist/docker-proxy.cjs', import.meta.url));

/** Reference builds the suite knows about; each one lacks some features (see LACKS). */
type RefName = 'go-20.10';

/** Behaviours that not every docker-proxy has. */
export type Capability =
  /** -v / -version / --version print the version (v24+). */
  | 'version-flag'
  /** -use-listen-fd: the listening socket comes in on fd 4 (v28+). */
  | 'listen-fd'
  /** Startup failures other than listen errors (bad proto, SCTP) are reported on fd 3 (v28+). */
  | 'fd3-all-errors'
  /** -host-ip / -container-ip are validated while parsing flags (v28+ TextVar). */
  | 'ip-validation'
  /** Keeps serving when fd 3 was not inherited (run by hand). */
  | 'runs-without-fd3'
  /** Idle splice pipes are kept in a bounded pool, so repeated load adds no fds. */
  | 'bounded-pipe-pool'
  /** UDP flows stay alive while only the client talks (v28.0.2+). */
  | 'udp-one-sided'
  /** A datagram that meets a stale ECONNREFUSED on the backend socket is resent (v29.5+). */
  | 'udp-write-retry'
  /** Our additions: DOCKER_PROXY_* environment variables, --udp-idle-timeout and friends. */
  | 'extensions';

const LACKS: Record<RefName, Record<Capability, string | undefined>> = {
  'go-20.10': {
    'version-flag': 'docker-proxy 20.10 has no -v/-version flags',
    'listen-fd': 'docker-proxy 20.10 has no -use-listen-fd (fd 4)',
    'fd3-all-errors': 'docker-proxy 20.10 reports an unknown protocol only with log.Fatalf, not on fd 3',
    'ip-validation': 'docker-proxy 20.10 has no IP validation (string flags parsed later by net.ParseIP)',
    // Seen here: without an inherited fd 3 its own listener gets fd 3; the status write then
    // closes it and the proxy logs "accept4: bad file descriptor" and exits 0 at once.
    'runs-without-fd3': 'docker-proxy 20.10 closes its own listener when fd 3 is not inherited',
    // Seen here: 200 connections left 400-800 pipe fds open for minutes (sockets all closed),
    // and an identical second batch sometimes added hundreds more.
    'bounded-pipe-pool': 'docker-proxy 20.10 keeps splice pipes in a Go sync.Pool until GCs, sized by peak load',
    'udp-one-sided': 'docker-proxy 20.10 expires UDP flows that only the client uses',
    'udp-write-retry': 'docker-proxy 20.10 drops a datagram that meets a stale ECONNREFUSED',
    extensions: 'docker-proxy 20.10 has none of our extensions (DOCKER_PROXY_* settings)',
  },
};

function readRef(): RefName | undefined {
  const raw = process.env['DOCKER_PROXY_REF'];
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'go-20.10') return raw;
  // A typo here would silently run ours-only tests against a reference, so refuse it.
  throw new Error(`DOCKER_PROXY_REF=${raw} is not a known reference (known: go-20.10)`);
}

function readBin(): string {
  const bin = process.env['DOCKER_PROXY_BIN'] ?? DEFAULT_BIN;
  if (!bin.startsWith('/')) {
    throw new Error(`DOCKER_PROXY_BIN must be an absolute path (dockerd requires one), got ${bin}`);
  }
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    // Fail the whole file loudly rather than letting every test time out on ENOENT.
    throw new Error(`docker-proxy binary ${bin} is missing or not executable (run npm run build, or set DOCKER_PROXY_BIN)`);
  }
  return bin;
}

/** The binary under test, as an absolute path (it becomes argv[0], as dockerd does). */
export const PROXY_BIN: string = readBin();

/** The reference build the binary declares itself to be, or undefined for ours. */
export const PROXY_REF: RefName | undefined = readRef();

/** True when the binary under test is our implementation (not a declared reference). */
export const IS_OURS = PROXY_REF === undefined;

/**
 * Test options that skip a test when the binary lacks a capability. Spread it into the
 * options of `it`/`describe`: `it('…', needs('listen-fd'), async () => …)`.
 */
export function needs(...caps: Capability[]): { skip?: string } {
  if (PROXY_REF === undefined) return {};
  for (const cap of caps) {
    const reason = LACKS[PROXY_REF][cap];
    if (reason !== undefined) return { skip: reason };
  }
  return {};
}

/** True when the binary has every listed capability. */
export function has(...caps: Capability[]): boolean {
  return needs(...caps).skip === undefined;
}

/** Merges test options: the first skip reason wins (e.g. `allOf(needs('listen-fd'), needsIpv6())`). */
export function allOf(...options: Array<{ skip?: string }>): { skip?: string } {
  return options.find((opt) => opt.skip !== undefined) ?? {};
}
