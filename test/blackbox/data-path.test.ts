// --data-path: the TCP and UDP data paths in use are the ones asked for, and a missing addon is
// handled: 'auto' falls back to the JS path (and says why), 'native' (or 'splice') is a start-up error.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { tcpRoundTrip } from '../helpers/client.ts';
import { echo, startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { LOOPBACK } from '../helpers/net.ts';
import { awaitReady, dockerdArgs, killAll, runToExit, spawnProxy } from '../helpers/spawn-proxy.ts';
import { PROXY_BIN, needs } from '../helpers/target.ts';
import { STEP_MS, pollUntil } from '../helpers/timeout.ts';
import { reservePort } from '../helpers/ports.ts';

const V4 = LOOPBACK.v4;
let dir = '';
let backend: TcpBackend | undefined;

/** The JSON line of the log that announces the running proxy. */
async function runningLine(log: string): Promise<Record<string, unknown>> {
  let line: unknown;
  await pollUntil(() => {
    line = readFileSync(log, 'utf8').split('\n').filter((l) => l.includes('proxy running')).map((l): unknown => JSON.parse(l))[0];
    return line !== undefined;
  }, STEP_MS, 'the "proxy running" log line');
  return typeof line === 'object' && line !== null ? Object.fromEntries(Object.entries(line)) : {};
}

/** dockerd's argv for a fresh mapping to the echo backend, and an environment with a log file. */
async function mapping(dataPath: string, proto: 'tcp' | 'udp' = 'tcp') {
  const log = join(dir, `${Math.random().toString(36).slice(2)}.log`);
  const hostPort = await reservePort(proto, V4);
  const args = dockerdArgs({ proto, hostIp: V4, hostPort, containerIp: V4, containerPort: backend?.port ?? 1 });
  return { log, hostPort, args, env: { DOCKER_PROXY_LOG_FILE: log, DOCKER_PROXY_DATA_PATH: dataPath } };
}

async function start(bin: string, dataPath: string, proto: 'tcp' | 'udp' = 'tcp') {
  const found = await mapping(dataPath, proto);
  return { ...found, proc: spawnProxy(found.args, { env: found.env, bin }) };
}

describe('--data-path', needs('extensions'), () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dp-path-'));
    backend = await startTcpBackend(V4, echo);
  });
  after(async () => {
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(killAll);

  // native and js are the names; splice and stream, the TCP relays they pick, are accepted too.
  for (const [option, path] of [['splice', 'splice'], ['stream', 'stream'], ['native', 'splice'], ['js', 'stream']] as const) {
    it(`${option}: the proxy runs and forwards with the ${path} relay`, async () => {
      const { log, hostPort, proc } = await start(PROXY_BIN, option);
      await awaitReady(proc);
      assert.equal((await runningLine(log))['dataPath'], path);
      assert.equal((await tcpRoundTrip(V4, hostPort, `over ${path}`)).toString(), `over ${path}`);
    });
  }

  for (const [option, udpPath] of [['splice', 'native'], ['stream', 'js'], ['native', 'native'], ['js', 'js']] as const) {
    it(`${option}: a UDP mapping runs on the ${udpPath} UDP path, and the log says so`, async () => {
      const { log, proc } = await start(PROXY_BIN, option, 'udp');
      await awaitReady(proc);
      const line = await runningLine(log);
      assert.equal(line['udpPath'], udpPath);
      assert.equal(line['dataPath'], undefined, 'no TCP mapping, no TCP data path');
    });
  }

  describe('without the addon next to the bundle', () => {
    // A copy of dist/ (the bundle and its vendor files) in a folder with no build/Release/splice.node.
    let bare = '';
    before(() => {
      mkdirSync(join(dir, 'bare'), { recursive: true });
      cpSync(dirname(PROXY_BIN), join(dir, 'bare', 'dist'), { recursive: true });
      bare = join(dir, 'bare', 'dist', basename(PROXY_BIN));
    });

    it('auto falls back to the stream relay, says why, and forwards', async () => {
      const { log, hostPort, proc } = await start(bare, 'auto');
      await awaitReady(proc);
      const line = await runningLine(log);
      assert.equal(line['dataPath'], 'stream');
      assert.match(String(line['fallbackReason']), /splice addon not loadable/);
      assert.equal((await tcpRoundTrip(V4, hostPort, 'fallback')).toString(), 'fallback');
    });

    it('auto: a UDP mapping falls back to the JS path and says why', async () => {
      const { log, proc } = await start(bare, 'auto', 'udp');
      await awaitReady(proc);
      const line = await runningLine(log);
      assert.equal(line['udpPath'], 'js');
      assert.match(String(line['udpFallbackReason']), /not loadable/);
    });

    it('splice with a UDP mapping is a start-up error on fd 3', async () => {
      const { args, env } = await mapping('splice', 'udp');
      const result = await runToExit(args, { env, bin: bare });
      assert.equal(result.exit.code, 1);
      assert.match(result.fd3, /^1\ndata path splice is unavailable for UDP: /);
    });

    it('native is a start-up error on fd 3, naming the value as given', async () => {
      const { args, env } = await mapping('native');
      const result = await runToExit(args, { env, bin: bare });
      assert.equal(result.exit.code, 1);
      assert.match(result.fd3, /^1\ndata path native is unavailable: splice addon not loadable/);
    });

    it('splice is a start-up error on fd 3', async () => {
      const { args, env } = await mapping('splice');
      const result = await runToExit(args, { env, bin: bare });
      assert.equal(result.exit.code, 1);
      assert.match(result.fd3, /^1\ndata path splice is unavailable: splice addon not loadable/);
    });
  });

  it('a bad value is a usage error', async () => {
    const result = await runToExit(['--data-path', 'fast']);
    assert.equal(result.exit.code, 2);
    assert.match(result.stderr, /^invalid value "fast" for flag -data-path: must be one of auto, native, js \(or splice, stream: the older names of native, js\)/);
  });
});
