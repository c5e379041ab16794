// Puts the load generators and the reference proxy in place: Debian packages for iperf3, wrk,
// nginx, socat and python3 (installed only when missing), and the Go docker-proxy via go-proxy.sh.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { progress } from './progress.ts';

const LIB_DIR = dirname(fileURLToPath(import.meta.url));
/** The repository root (bench/lib/../..). */
export const REPO_ROOT = join(LIB_DIR, '..', '..');

/** Executable name → the Debian package that provides it. */
const TOOLS: Readonly<Record<string, string>> = {
  iperf3: 'iperf3', wrk: 'wrk', nginx: 'nginx', socat: 'socat', python3: 'python3', mkfifo: 'coreutils',
};

function onPath(name: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  return dirs.some((dir) => dir !== '' && existsSync(join(dir, name)));
}

function aptInstall(packages: string[]): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): number | null =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...packages], { stdio: ['ignore', 2, 2], env }).status;
  if (install() === 0) return;
  // An empty or stale package list is the usual cause: refresh once and retry.
  spawnSync('apt-get', ['update'], { stdio: ['ignore', 2, 2], env });
  if (install() !== 0) throw new Error(`apt-get install ${packages.join(' ')} failed`);
}

/** Installs whichever of `names` (keys of TOOLS) are missing. */
export function ensureTools(names: readonly string[]): void {
  const missing = names.filter((name) => !onPath(name));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((name) => TOOLS[name] ?? name))];
  progress(`installing from Debian: ${packages.join(' ')}`);
  aptInstall(packages);
  const still = missing.filter((name) => !onPath(name));
  if (still.length > 0) throw new Error(`still missing after apt-get install: ${still.join(', ')}`);
}

/** Fetches (once) and returns the Go docker-proxy binary from Debian's docker.io package. */
export function ensureGoProxy(): { path: string; version: string } {
  const path = execFileSync('bash', [join(LIB_DIR, 'go-proxy.sh')], { stdio: ['ignore', 'pipe', 2] }).toString().trim();
  let version = 'docker.io (version unknown)';
  const changelog = join(dirname(path), '..', 'share', 'doc', 'docker.io', 'changelog.Debian.gz');
  if (existsSync(changelog)) {
    const head = execFileSync('sh', ['-c', 'zcat "$1" | head -n 1', 'sh', changelog]).toString();
    version = /^(\S+ \([^)]+\))/.exec(head)?.[1] ?? version;
  }
  return { path, version };
}
