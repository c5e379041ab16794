// Our additions (ours only): settings from DOCKER_PROXY_* variables (dockerd passes its
// environment, never extra flags) and the same settings as flags. A bad variable is a startup
// error, so it goes to fd 3 like any other; a bad flag is a flag error (exit 2, usage).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { echo, startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { LOOPBACK } from '../helpers/net.ts';
import { dockerdArgs, killAll, type Mapping, runToExit, spawnMapping, startProxy } from '../helpers/spawn-proxy.ts';
import { needs } from '../helpers/target.ts';
import { STEP_MS, pollUntil, withTimeout } from '../helpers/timeout.ts';
import { USAGE_HEAD } from '../helpers/usage.ts';
import { reservePort } from '../helpers/ports.ts';

const V4 = LOOPBACK.v4;
const OURS = needs('extensions');

afterEach(killAll);

let backend: TcpBackend;
let scratch: string;
before(async () => {
  backend = await startTcpBackend(V4, echo);
  scratch = mkdtempSync(join(tmpdir(), 'docker-proxy-ext-'));
});
after(async () => {
  await backend.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function mapping(proto: 'tcp' | 'udp'): Promise<Mapping> {
  return { proto, hostIp: V4, hostPort: await reservePort(proto, V4), containerIp: V4, containerPort: backend.port };
}

describe('a bad DOCKER_PROXY_* variable is a startup error on fd 3', () => {
  const cases = [
    { proto: 'udp', name: 'DOCKER_PROXY_UDP_IDLE_TIMEOUT', value: 'abc' },
    { proto: 'udp', name: 'DOCKER_PROXY_UDP_MAX_FLOWS', value: 'many' },
    { proto: 'tcp', name: 'DOCKER_PROXY_LOG_LEVEL', value: 'loud' },
  ] as const;
  for (const c of cases) {
    it(`${c.name}=${c.value}`, OURS, async () => {
      const proxy = spawnMapping(await mapping(c.proto), { env: { [c.name]: c.value } });
      const status = await withTimeout(proxy.status, STEP_MS, 'status on fd 3');
      assert.ok(status.text.startsWith('1\n'), `fd 3 was ${JSON.stringify(status.text)}`);
      assert.ok(status.text.includes(c.name), `the message names the variable: ${JSON.stringify(status.text)}`);
      assert.deepEqual(await withTimeout(proxy.exited, STEP_MS, 'exit'), { code: 1, signal: null });
    });
  }
});

describe('the same bad values as flags are flag errors: exit 2, usage, nothing on fd 3', () => {
  const cases = [
    { flag: '--udp-idle-timeout', value: 'abc' },
    { flag: '--udp-max-flows', value: 'many' },
    { flag: '--log-level', value: 'loud' },
  ];
  for (const c of cases) {
    it(`${c.flag} ${c.value}`, OURS, async () => {
      const run = await runToExit([...dockerdArgs(await mapping('udp')), c.flag, c.value]);
      assert.deepEqual(run.exit, { code: 2, signal: null });
      // Go names a flag with one dash in its messages, whichever way it was written.
      const line = `invalid value "${c.value}" for flag ${c.flag.slice(1)}: `;
      assert.ok(run.stderr.startsWith(line), `stderr was:\n${run.stderr}`);
      assert.ok(run.stderr.includes(`\n${USAGE_HEAD}`), 'the usage follows the error line');
      assert.equal(run.fd3, '');
    });
  }
});

describe('DOCKER_PROXY_LOG_FILE', () => {
  it('receives JSON lines, one of them about the mapping', OURS, async () => {
    const file = join(scratch, 'proxy.log');
    const m = await mapping('tcp');
    await startProxy(m, { env: { DOCKER_PROXY_LOG_FILE: file } });
    const mentionsMapping = (): boolean => {
      let text: string;
      try { text = readFileSync(file, 'utf8'); } catch { return false; }
      const lines = text.split('\n').filter((l) => l !== '');
      // Every line must be JSON; parse errors fail the test instead of being polled away.
      const records = lines.map((l): unknown => JSON.parse(l));
      return records.some((r) => {
        const flat = JSON.stringify(r);
        return flat.includes(String(m.hostPort)) && flat.includes(String(m.containerPort));
      });
    };
    // Logging may be asynchronous: wait for the line rather than reading once.
    await pollUntil(mentionsMapping, STEP_MS, `a JSON line naming ports ${m.hostPort} and ${m.containerPort}`);
  });

  it('a name that is all digits is a file in the working directory, never a descriptor', OURS, async () => {
    // pino would take "3" for fd 3: the log would go into dockerd's status pipe.
    const dir = mkdtempSync(join(scratch, 'cwd-'));
    const m = await mapping('tcp');
    const proxy = spawnMapping(m, { env: { DOCKER_PROXY_LOG_FILE: '3' }, cwd: dir });
    const status = await withTimeout(proxy.status, STEP_MS, 'status on fd 3');
    assert.equal(status.text, '0\n', 'fd 3 carries the status and nothing else');
    await pollUntil(() => existsSync(join(dir, '3')) && readFileSync(join(dir, '3'), 'utf8').includes(String(m.hostPort)),
      STEP_MS, `a log line naming port ${m.hostPort} in ${dir}/3`);
    proxy.child.kill('SIGINT');
    assert.deepEqual(await withTimeout(proxy.exited, STEP_MS, 'exit'), { code: 0, signal: null });
  });

  it('in a missing directory is a startup error on fd 3', OURS, async () => {
    const file = join(scratch, 'no-such-dir', 'proxy.log');
    const proxy = spawnMapping(await mapping('tcp'), { env: { DOCKER_PROXY_LOG_FILE: file } });
    const status = await withTimeout(proxy.status, STEP_MS, 'status on fd 3');
    assert.ok(status.text.startsWith('1\n') && status.text.length > 2, `fd 3 was ${JSON.stringify(status.text)}`);
    assert.deepEqual(await withTimeout(proxy.exited, STEP_MS, 'exit'), { code: 1, signal: null });
  });
});
