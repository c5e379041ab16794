// Fault 10 (continued), huge values that parse: durations the CLI accepts (any duration of at least
// 1 ms) beyond what a Node timer can hold (2^31-1 ms, about 24.8 days). Node replaces such a delay
// by 1 ms and prints a TimeoutOverflowWarning each time, so a timer meant to fire in 1000 hours
// fires every millisecond instead. Either outcome passes: the proxy refuses the value at start-up
// with a message naming the option, or it starts and, idle, stays idle.
import assert from 'node:assert/strict';
import type dgram from 'node:dgram';
import { after, describe, it } from 'node:test';
import { bindUdp, closeSocket, portOf } from '../helpers/net.ts';
import { withTimeout } from '../helpers/timeout.ts';
import { echo, startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { killFaultProxies, tempDir, tryStartFaultProxy } from './helpers/proxy.ts';
import { DATA_PATHS, V4, size, CONTAINER } from './helpers/settings.ts';
import { cpuDuring } from './helpers/sysinfo.ts';
import { fmt } from '../helpers/stats.ts';

/** CPU an idle proxy may use in the window (5 ticks: timers, GC); a 1 ms timer loop uses 15-40 %. */
const IDLE_CPU_S = 0.05;
const WINDOW_MS = 1_000;
/** Durations that parse: beyond a Node timer, Go's largest, and digits that overflow to Infinity. */
const HUGE = size(['1000h', '9'.repeat(400)], ['1000h', '2562047h', '9'.repeat(400)]);

const sockets: dgram.Socket[] = [];
const backends: TcpBackend[] = [];
after(async () => {
  await killFaultProxies();
  await Promise.all(sockets.map((sock) => closeSocket(sock)));
  await Promise.all(backends.map((b) => b.close()));
});

describe('huge durations do not turn timers into busy loops', { timeout: 60_000 }, () => {
  for (const duration of HUGE) {
    const shown = duration.length > 12 ? `${duration.slice(0, 6)}…(${duration.length} digits)` : duration;
    for (const dataPath of DATA_PATHS) it(`DOCKER_PROXY_UDP_IDLE_TIMEOUT=${shown}, DOCKER_PROXY_DATA_PATH=${dataPath}: a proxy with one idle flow stays idle`, async () => {
      const container = await bindUdp(V4);
      sockets.push(container);
      container.on('message', (payload, from) => container.send(payload, from.port, from.address));
      const started = await tryStartFaultProxy({ proto: 'udp', containerPort: portOf(container), dataPath,
        env: { DOCKER_PROXY_UDP_IDLE_TIMEOUT: duration } });
      if ('failure' in started) {
        assert.match(started.failure, /^1\n.*(DOCKER_PROXY_UDP_IDLE_TIMEOUT|udp-idle-timeout)/s, 'a start-up refusal must name the option');
        return;
      }
      const { proxy } = started;
      const client = await bindUdp(V4);
      sockets.push(client);
      const answer = new Promise<Buffer>((resolve) => client.once('message', resolve));
      client.send('one flow', proxy.hostPort, V4);
      assert.equal((await withTimeout(answer, 5_000, 'the echo')).toString(), 'one flow');
      const cpu = await cpuDuring(proxy.pid, WINDOW_MS);
      const warnings = proxy.stderr().split('TimeoutOverflowWarning').length - 1;
      console.log(`# udp idle timeout ${shown}, ${dataPath}: ${fmt(cpu)} s CPU in ${WINDOW_MS} ms idle, ${warnings} TimeoutOverflowWarnings`);
      assert.ok(cpu < IDLE_CPU_S, `the idle proxy used ${fmt(cpu)} s CPU in ${WINDOW_MS} ms (${warnings} TimeoutOverflowWarnings on stderr)`);
      assert.equal(warnings, 0, 'TimeoutOverflowWarning on stderr');
    });

    it(`DOCKER_PROXY_METRICS_INTERVAL=${shown}: a proxy writing a metrics file stays idle`, async () => {
      const backend = await startTcpBackend(V4, echo, CONTAINER);
      backends.push(backend);
      const started = await tryStartFaultProxy({ proto: 'tcp', containerPort: backend.port,
        env: { DOCKER_PROXY_METRICS_DIR: tempDir('fault-metrics-dir-'), DOCKER_PROXY_METRICS_INTERVAL: duration } });
      if ('failure' in started) {
        assert.match(started.failure, /^1\n.*(DOCKER_PROXY_METRICS_INTERVAL|metrics-interval)/s, 'a start-up refusal must name the option');
        return;
      }
      const { proxy } = started;
      const cpu = await cpuDuring(proxy.pid, WINDOW_MS);
      const warnings = proxy.stderr().split('TimeoutOverflowWarning').length - 1;
      console.log(`# metrics interval ${shown}: ${fmt(cpu)} s CPU in ${WINDOW_MS} ms idle, ${warnings} TimeoutOverflowWarnings`);
      assert.ok(cpu < IDLE_CPU_S, `the idle proxy used ${fmt(cpu)} s CPU in ${WINDOW_MS} ms (${warnings} TimeoutOverflowWarnings on stderr)`);
      assert.equal(warnings, 0, 'TimeoutOverflowWarning on stderr');
    });
  }
});
