// Fault 12, exposure checks. The metrics endpoint (and the host port) listen on the address given
// and no other: started on 127.0.0.1, a connection to any other address of this machine on that
// port is refused. The endpoint answers only GET on its two paths; every other method gets 405; no
// path reaches the file system (paths such as /../../etc/passwd get 404 and leak nothing). And
// SIGUSR1 must not open Node's inspector: dockerd runs the proxy as root, and an inspector on
// 127.0.0.1:9229 runs any code any local user sends it, as root.
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { withTimeout } from '../helpers/timeout.ts';
import { echo, startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { killFaultProxies, startFaultProxy, type FaultProxy } from './helpers/proxy.ts';
import { CONTAINER, V4 } from './helpers/settings.ts';
import { httpRequest } from '../helpers/http.ts';

const backends: TcpBackend[] = [];
after(async () => {
  await killFaultProxies();
  await Promise.all(backends.map((b) => b.close()));
});

/** This machine's addresses other than 127.0.0.1 (link-local IPv6 needs a scope: left out). */
function otherLocalAddresses(): { external: string[]; loopback: string[] } {
  const external: string[] = [];
  const loopback = ['127.0.0.2'];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.address === '127.0.0.1' || entry.address.startsWith('fe80:')) continue;
      if (entry.internal) loopback.push(entry.address);
      else external.push(entry.address);
    }
  }
  return { external, loopback: [...new Set(loopback)] };
}

/** How a connection to host:port ends: 'refused', 'connected', or the error code. */
function tryConnect(host: string, port: number): Promise<string> {
  return withTimeout(new Promise<string>((resolve) => {
    const sock = net.connect({ host, port });
    sock.once('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED' ? 'refused' : String(error.code)));
  }), 5_000, `connect to ${host}:${port}`);
}

/** A raw request; resolves with the status line (or '' if the server closed without one). */
function rawStatus(port: number, request: string): Promise<string> {
  return withTimeout(new Promise<string>((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let text = '';
    sock.setEncoding('latin1');
    sock.on('data', (chunk: string) => {
      text += chunk;
    });
    sock.on('error', () => undefined);
    sock.once('close', () => resolve(text.split('\r\n')[0] ?? ''));
    sock.once('connect', () => sock.write(request));
    setTimeout(() => sock.end(), 1_000).unref();
  }), 5_000, `raw request ${JSON.stringify(request.slice(0, 30))}`);
}

describe('security: listening addresses, methods, paths', { timeout: 60_000 }, () => {
  let proxy: FaultProxy | undefined;
  const started = (): FaultProxy => {
    if (proxy === undefined) throw new Error('the proxy did not start');
    return proxy;
  };
  const addresses = otherLocalAddresses();

  before(async () => {
    const backend = await startTcpBackend(V4, echo, CONTAINER);
    backends.push(backend);
    proxy = await startFaultProxy({ proto: 'tcp', containerPort: backend.port, metrics: true });
  });

  it(`started on 127.0.0.1, the metrics port refuses the machine's other addresses (${addresses.external.join(', ') || 'none'})`,
    addresses.external.length === 0 ? { skip: 'this machine has no address besides loopback' } : {}, async () => {
      const { metricsPort } = started();
      assert.equal(await tryConnect('127.0.0.1', metricsPort), 'connected');
      for (const host of addresses.external) assert.equal(await tryConnect(host, metricsPort), 'refused', host);
    });

  it(`… and other loopback addresses (${addresses.loopback.join(', ')})`, async () => {
    const { metricsPort } = started();
    for (const host of addresses.loopback) assert.equal(await tryConnect(host, metricsPort), 'refused', host);
  });

  it('the host port bound on 127.0.0.1 refuses every other address too', async () => {
    const { hostPort } = started();
    for (const host of [...addresses.external, ...addresses.loopback]) assert.equal(await tryConnect(host, hostPort), 'refused', host);
  });

  it('GET answers 200 on /metrics and /healthz', async () => {
    const { metricsPort } = started();
    for (const path of ['/metrics', '/healthz']) assert.equal((await httpRequest(metricsPort, path, 'GET')).status, 200, `GET ${path}`);
  });

  for (const method of ['HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'PROPFIND', 'PURGE']) {
    it(`${method} gets 405 with an Allow header naming GET`, async () => {
      const { metricsPort } = started();
      for (const path of ['/metrics', '/healthz']) {
        const answer = await httpRequest(metricsPort, path, method);
        assert.equal(answer.status, 405, `${method} ${path}`);
        assert.match(String(answer.headers['allow']), /\bGET\b/, `Allow on ${method} ${path}`);
      }
    });
  }

  it('CONNECT is never answered with success', async () => {
    const { metricsPort } = started();
    const status = await rawStatus(metricsPort, 'CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n');
    assert.doesNotMatch(status, /^HTTP\/1\.[01] 2/, `CONNECT answered ${status}`);
  });

  for (const path of ['/../../../../etc/passwd', '/metrics/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '//etc/passwd',
    '/etc/passwd', '/proc/self/environ', '/metrics%00/../etc/passwd', '/..%2f..%2fetc%2fpasswd', '/healthz/../../etc/shadow']) {
    it(`GET ${path}: 404, nothing from the file system`, async () => {
      const { metricsPort } = started();
      const status = await rawStatus(metricsPort, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.match(status, /^HTTP\/1\.1 (400|404) /, `GET ${path} answered ${JSON.stringify(status)}`);
      const answer = await httpRequest(metricsPort, path, 'GET').catch(() => undefined);
      if (answer !== undefined) assert.doesNotMatch(answer.body, /root:|PATH=|DOCKER_PROXY_/, `GET ${path} leaked`);
    });
  }

  it('SIGUSR1 opens no debugger port (no new listening socket, no "Debugger listening")', async () => {
    const backend = await startTcpBackend(V4, echo, CONTAINER);
    backends.push(backend);
    const proxy = await startFaultProxy({ proto: 'tcp', containerPort: backend.port, metrics: true });
    const before = listeningPorts(proxy.pid);
    proxy.child.kill('SIGUSR1');
    // A window, not a wait for an event: what is checked is that nothing opens in it.
    await delay(1_000);
    const opened = proxy.alive() ? [...listeningPorts(proxy.pid)].filter((port) => !before.has(port)) : [];
    console.log(`# SIGUSR1: the proxy ${proxy.alive() ? 'kept running' : `exited ${JSON.stringify(await proxy.exited)}`}, `
      + `new listening ports ${JSON.stringify(opened)}`);
    assert.deepEqual(opened, [], `after SIGUSR1 the proxy (root under dockerd) listens on ${opened.join(', ')}: ${proxy.stderr().slice(-300)}`);
    assert.doesNotMatch(proxy.stderr(), /Debugger listening/);
  });
});

/** TCP ports `pid` listens on: its socket inodes matched against /proc/net/tcp{,6} LISTEN entries. */
function listeningPorts(pid: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1] !== undefined) inodes.add(match[1]);
    } catch {
      // Closed meanwhile.
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, local = '', , state = ''] = fields;
      if (state === '0A' && inodes.has(fields[9] ?? '')) ports.add(Number.parseInt(local.split(':').at(-1) ?? '', 16));
    }
  }
  return ports;
}
