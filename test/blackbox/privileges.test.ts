// Binding a port below 1024 without privileges: the start-up error says why and what to do.
// The test runs the proxy as the unprivileged user nobody (through setpriv), so it needs root.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { LOOPBACK, closeSocket, listenTcp } from '../helpers/net.ts';
import { PROXY_BIN, needs } from '../helpers/target.ts';
import { runToExit } from '../helpers/spawn-proxy.ts';

/** Why this machine cannot run the test, or undefined. */
function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to run the proxy as nobody';
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'setpriv (util-linux) is not installed';
  }
  const start = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  return start > 512 ? undefined : `net.ipv4.ip_unprivileged_port_start is ${start}: low ports need no privilege here`;
}

/** A port below 1024 and below the unprivileged start that is free right now (bound as root). */
async function freeLowPort(): Promise<number> {
  for (let port = 1023; port > 512; port--) {
    try {
      await closeSocket(await listenTcp({ host: LOOPBACK.v4, port }));
      return port;
    } catch {
      // In use: try the next one.
    }
  }
  throw new Error('no free port between 513 and 1023');
}

/**
 * The proxy where nobody can run it: a copy of dist/ and the addons in a world-readable folder. A
 * clone under a private directory (as `mktemp -d` makes) is out of nobody's reach otherwise.
 */
function copyForNobody(): { bin: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'privileges-'));
  chmodSync(dir, 0o755);
  cpSync(dirname(PROXY_BIN), join(dir, 'dist'), { recursive: true });
  const addons = join(dirname(PROXY_BIN), '..', 'build', 'Release');
  if (existsSync(addons)) cpSync(addons, join(dir, 'build', 'Release'), { recursive: true });
  return { bin: join(dir, 'dist', basename(PROXY_BIN)), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('a privileged port without privileges', needs('extensions'), () => {
  const reason = cannotRun();
  it('fails on fd 3 with permission denied and the advice', reason === undefined ? {} : { skip: reason }, async () => {
    const port = await freeLowPort();
    const copy = copyForNobody();
    const args = ['--reuid=65534', '--regid=65534', '--clear-groups', '--', copy.bin,
      '-proto', 'tcp', '-host-ip', LOOPBACK.v4, '-host-port', String(port), '-container-ip', LOOPBACK.v4, '-container-port', '80'];
    const result = await runToExit(args, { bin: '/usr/bin/setpriv' }).finally(copy.remove);
    assert.equal(result.exit.code, 1, `stderr: ${result.stderr}`);
    assert.equal(result.fd3, `1\nfailed to listen on ${LOOPBACK.v4}:${port}: listen tcp4 ${LOOPBACK.v4}:${port}: bind: permission denied `
      + '(ports below 1024 need root or CAP_NET_BIND_SERVICE, or a lower net.ipv4.ip_unprivileged_port_start)');
  });
});
