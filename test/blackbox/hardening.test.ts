// Started as root (as dockerd starts it), the proxy gives up what it does not need once every
// socket is open: user nobody, only the capabilities its configuration needs, no_new_privs and the
// seccomp filter on every thread. Every feature keeps working afterwards, and the proxy's own
// process is refused the calls the filter names.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { tcpRoundTrip } from '../helpers/client.ts';
import { udpClient } from '../helpers/udp-client.ts';
import { echo, startTcpBackend, startUdpBackend, type TcpBackend, type UdpBackend } from '../helpers/backends.ts';
import { LOOPBACK } from '../helpers/net.ts';
import { reservePort } from '../helpers/ports.ts';
import { parseStatus, threads } from '../helpers/proc.ts';
import { PROXY_USER_ID, shareWithProxy } from '../helpers/proxy-user.ts';
import { killAll, runToExit, spawnProxy, startProxy, awaitReady, type Mapping } from '../helpers/spawn-proxy.ts';
import { allOf, needs } from '../helpers/target.ts';
import { STEP_MS, pollUntil } from '../helpers/timeout.ts';

const V4 = LOOPBACK.v4;
const CAP_NET_BIND_SERVICE = 10;
const CAP_SYS_RESOURCE = 24;

/** Only root can watch a proxy give up root. */
const asRoot = process.getuid?.() === 0 ? {} : { skip: 'needs root: the proxy only changes user when started as root' };
const OPTIONS = allOf(needs('extensions'), asRoot);

/** What this (root) test process may hand on: a proxy can only keep what it starts with. */
const START_CAPS = parseStatus(readFileSync('/proc/self/status', 'utf8')).capPrm;
const bit = (cap: number): bigint => 1n << BigInt(cap);
const mask = (...caps: number[]): bigint => caps.reduce((all, cap) => all | bit(cap), 0n) & START_CAPS;
/** The run's TCP path (npm test runs the TCP files with each): splice keeps SYS_RESOURCE for its pipes. */
const JS_PATH = ['js', 'stream'].includes(process.env.DOCKER_PROXY_DATA_PATH ?? '');
const SPLICE_CAPS = JS_PATH ? 0n : mask(CAP_SYS_RESOURCE);

/** Asserts the dropped state on every thread; the main thread holds exactly `keep`. */
function assertDropped(pid: number, keep: bigint, id = `${PROXY_USER_ID}`, group = id): void {
  const all = threads(pid);
  assert.ok(all.length >= 2, `Node runs several threads, saw ${all.length}`);
  for (const [index, thread] of all.entries()) {
    const which = index === 0 ? 'main thread' : `thread ${index}`;
    assert.equal(thread.uid, `${id} ${id} ${id} ${id}`, `${which}: real, effective, saved and fs uid`);
    assert.equal(thread.gid, `${group} ${group} ${group} ${group}`, `${which}: gids`);
    assert.equal(thread.groups, group, `${which}: supplementary groups`);
    assert.equal(thread.noNewPrivs, '1', `${which}: NoNewPrivs`);
    assert.equal(thread.seccomp, '2', `${which}: Seccomp (2 = filter)`);
    assert.equal(thread.capInh | thread.capAmb, 0n, `${which}: no inheritable or ambient capabilities`);
    // The other threads lose every capability with the uid change; only the main thread keeps some.
    assert.equal(thread.capEff, index === 0 ? keep : 0n, `${which}: CapEff ${thread.capEff.toString(16)}`);
    assert.equal(thread.capPrm, index === 0 ? keep : 0n, `${which}: CapPrm ${thread.capPrm.toString(16)}`);
  }
  assert.equal(all[0]?.capBnd, keep, 'main thread: bounding set');
}

let scratch = '';
let tcpBackend: TcpBackend;
let udpBackend: UdpBackend;

async function tcpMapping(): Promise<Mapping> {
  return { proto: 'tcp', hostIp: V4, hostPort: await reservePort('tcp', V4), containerIp: V4, containerPort: tcpBackend.port };
}

/** GET path from the metrics endpoint; status and body. */
async function scrape(port: number, path = '/metrics'): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${V4}:${port}${path}`, { signal: AbortSignal.timeout(STEP_MS) });
  return { status: response.status, body: await response.text() };
}

function logLines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('giving up privileges after start-up', OPTIONS, () => {
  before(async () => {
    scratch = shareWithProxy(mkdtempSync(join(tmpdir(), 'dp-hardening-')));
    tcpBackend = await startTcpBackend(V4, echo);
    udpBackend = await startUdpBackend(V4);
  });
  after(async () => {
    await Promise.all([tcpBackend.close(), udpBackend.close()]);
    rmSync(scratch, { recursive: true, force: true });
  });
  afterEach(killAll);

  it('TCP under dockerd\'s argv: nobody, SYS_RESOURCE at most, seccomp; forwarding, metrics, textfile and log still work', async () => {
    const metricsDir = shareWithProxy(mkdtempSync(join(scratch, 'metrics-')));
    const logFile = join(scratch, 'tcp.log');
    const metricsPort = await reservePort('tcp', V4);
    const m = await tcpMapping();
    const proxy = await startProxy(m, { env: {
      DOCKER_PROXY_METRICS_DIR: metricsDir, DOCKER_PROXY_METRICS_INTERVAL: '100ms', DOCKER_PROXY_METRICS_ADDR: `${V4}:${metricsPort}`,
      DOCKER_PROXY_LOG_FILE: logFile, DOCKER_PROXY_TEST_PROBES: '1',
    } });
    // Splice pipes beyond the per-user budget need SYS_RESOURCE; the js path needs nothing.
    assertDropped(proxy.pid, SPLICE_CAPS);

    const reply = await tcpRoundTrip(V4, Number(m.hostPort), 'through a proxy that gave up root');
    assert.equal(reply.toString(), 'through a proxy that gave up root');
    const metrics = await scrape(metricsPort);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^docker_proxy_connections_total\{[^}]*\} 1$/m);
    const file = join(metricsDir, `tcp_${V4}_${m.hostPort}.prom`);
    await pollUntil(() => {
      try {
        return /^docker_proxy_connections_total\{[^}]*\} 1$/m.test(readFileSync(file, 'utf8'));
      } catch {
        return false;
      }
    }, STEP_MS, 'the textfile rewritten after the connection');
    assert.equal(statSync(file).uid, PROXY_USER_ID, 'the textfile is now written by nobody');

    const lines = logLines(logFile);
    const running = lines.find((line) => typeof line.msg === 'string' && line.msg.startsWith('running as uid 65534'));
    assert.ok(running !== undefined, `a log line saying what the proxy holds: ${JSON.stringify(lines)}`);
    assert.deepEqual(running.probes, { execve: 'EPERM', process_vm_readv: 'EPERM', ptrace: 'EPERM', unshare: 'EPERM' },
      'the proxy\'s own calls of execve, process_vm_readv, ptrace and unshare are refused');
    assert.equal(running.seccomp, 'filter');
    const exit = await proxy.stop('SIGINT', STEP_MS);
    assert.deepEqual(exit, { code: 0, signal: null }, 'SIGINT still ends it with 0');
    assert.throws(() => statSync(file), 'the textfile is removed at the stop, by nobody');
  });

  it('UDP: the same state, and datagrams still go both ways', async () => {
    const m: Mapping = { proto: 'udp', hostIp: V4, hostPort: await reservePort('udp', V4), containerIp: V4, containerPort: udpBackend.port };
    const proxy = await startProxy(m);
    assertDropped(proxy.pid, 0n);
    const client = await udpClient(V4);
    try {
      await client.send('ping after the drop', Number(m.hostPort));
      assert.equal((await client.next()).payload.toString(), 'ping after the drop');
    } finally {
      await client.close();
    }
  });

  it('--config: keeps NET_BIND_SERVICE for reloads, and SIGHUP still opens a new mapping', async () => {
    const first = await reservePort('tcp', V4);
    const second = await reservePort('tcp', V4);
    const file = join(scratch, 'mappings.json');
    const write = (ports: number[]): void => writeFileSync(file, JSON.stringify({ mappings: ports.map((port) => `${V4}:${port}:${V4}:${tcpBackend.port}/tcp`) }));
    write([first]);
    const proxy = await awaitReady(spawnProxy(['--config', file]));
    assertDropped(proxy.pid, mask(CAP_NET_BIND_SERVICE) | SPLICE_CAPS);
    write([first, second]);
    proxy.child.kill('SIGHUP');
    await pollUntil(async () => {
      try {
        return (await tcpRoundTrip(V4, second, 'reloaded')).toString() === 'reloaded';
      } catch {
        return false;
      }
    }, STEP_MS, `the mapping added by SIGHUP on port ${second}`);
    assert.equal((await tcpRoundTrip(V4, first, 'kept')).toString(), 'kept');
  });

  it('--user root keeps uid 0 and every capability, still with no_new_privs and seccomp', async () => {
    const proxy = await startProxy(await tcpMapping(), { env: { DOCKER_PROXY_USER: 'root' } });
    const [main] = threads(proxy.pid);
    assert.equal(main?.uid, '0 0 0 0');
    assert.equal(main?.capEff, parseStatus(readFileSync('/proc/self/status', 'utf8')).capEff);
    assert.equal(main?.noNewPrivs, '1');
    assert.equal(main?.seccomp, '2');
  });

  it('-seccomp=false leaves the filter off (for debugging), the user change on', async () => {
    const proxy = await awaitReady(spawnProxy([...['-proto', 'tcp', '-host-ip', V4, '-host-port', String(await reservePort('tcp', V4))],
      '-container-ip', V4, '-container-port', String(tcpBackend.port), '-seccomp=false']));
    const [main] = threads(proxy.pid);
    assert.equal(main?.uid, `${PROXY_USER_ID} ${PROXY_USER_ID} ${PROXY_USER_ID} ${PROXY_USER_ID}`);
    assert.equal(main?.seccomp, '0');
  });

  it('--user UID:GID as numbers', async () => {
    const proxy = await startProxy(await tcpMapping(), { env: { DOCKER_PROXY_USER: '4242:4343' } });
    assertDropped(proxy.pid, SPLICE_CAPS, '4242', '4343');
  });

  it('a --user that does not exist is a start-up error on fd 3', async () => {
    const m = await tcpMapping();
    const result = await runToExit(['-proto', 'tcp', '-host-ip', V4, '-host-port', String(m.hostPort), '-container-ip', V4,
      '-container-port', String(m.containerPort)], { env: { DOCKER_PROXY_USER: 'no-such-user-here' } });
    assert.equal(result.exit.code, 1);
    assert.equal(result.fd3, '1\ninvalid --user no-such-user-here: user no-such-user-here: no such user');
  });

  it('a metrics directory only root may write is a start-up error naming it and the fix', async () => {
    const dir = mkdtempSync(join(scratch, 'root-only-'));
    chmodSync(dir, 0o700);
    const m = await tcpMapping();
    const result = await runToExit(['-proto', 'tcp', '-host-ip', V4, '-host-port', String(m.hostPort), '-container-ip', V4,
      '-container-port', String(m.containerPort)], { env: { DOCKER_PROXY_METRICS_DIR: dir } });
    assert.equal(result.exit.code, 1);
    assert.match(result.fd3, new RegExp(`^1\\nmetrics directory ${dir} is not writable by user nobody \\(uid 65534\\), which the proxy runs as after start-up \\(permission denied\\): make it writable for that user, or start with --user root$`));
  });
});
