// Command line (docs/design/engine-contract.md §1, §5): Go `flag` semantics, exit codes 0/2, usage text,
// and nothing ever written on fd 3 when the process exits from flag handling.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { tcpRoundTrip } from '../helpers/client.ts';
import { echo, startTcpBackend, type TcpBackend } from '../helpers/backends.ts';
import { LOOPBACK, listenTcp, portOf, serverFd } from '../helpers/net.ts';
import { awaitReady, type Finished, killAll, runToExit, spawnProxy } from '../helpers/spawn-proxy.ts';
import { IS_OURS, needs } from '../helpers/target.ts';
import { NEW_USAGE, REF_USAGE } from '../helpers/usage.ts';
import { reservePort } from '../helpers/ports.ts';

const V4 = LOOPBACK.v4;

afterEach(killAll);

/** stderr must be `firstLine` then the usage: 20.10's exactly, ours starting with the new block. */
function assertErrorThenUsage(run: Finished, firstLine: string): void {
  if (IS_OURS) assert.ok(run.stderr.startsWith(firstLine + NEW_USAGE), `stderr was:\n${run.stderr}`);
  else assert.equal(run.stderr, firstLine + REF_USAGE);
}

describe('version flags print the version on stdout and exit 0', () => {
  for (const flag of ['-v', '-version', '--version']) {
    it(flag, needs('version-flag'), async () => {
      const run = await runToExit([flag]);
      assert.deepEqual(run.exit, { code: 0, signal: null });
      assert.match(run.stdout, /^docker-proxy \(commit [^)\n]+\) version [^\s]+\n$/);
      assert.equal(run.fd3, '', 'nothing on fd 3');
    });
  }
});

describe('flag errors exit 2 with Go\'s message and usage, nothing on fd 3', () => {
  const cases = [
    { args: ['-bogus'], line: 'flag provided but not defined: -bogus\n', options: {} },
    { args: ['-host-port', 'abc'], line: 'invalid value "abc" for flag -host-port: parse error\n', options: {} },
    { args: ['-container-port', '99999999999999999999'],
      line: 'invalid value "99999999999999999999" for flag -container-port: value out of range\n', options: {} },
    { args: ['-proto', 'tcp', '-host-port'], line: 'flag needs an argument: -host-port\n', options: {} },
    { args: ['---x'], line: 'bad flag syntax: ---x\n', options: {} },
    { args: ['-host-ip', '1.2.3'], line: 'invalid value "1.2.3" for flag -host-ip: invalid IP address: 1.2.3\n',
      options: needs('ip-validation') },
    { args: ['-use-listen-fd=maybe'], line: 'invalid boolean value "maybe" for -use-listen-fd: parse error\n',
      options: needs('listen-fd') },
  ];
  for (const c of cases) {
    it(c.args.join(' '), c.options, async () => {
      const run = await runToExit(c.args);
      assert.deepEqual(run.exit, { code: 2, signal: null });
      assertErrorThenUsage(run, c.line);
      assert.equal(run.stdout, '');
      assert.equal(run.fd3, '', 'nothing on fd 3');
    });
  }
});

describe('help flags print the usage on stderr and exit 0', () => {
  for (const flag of ['-h', '-help', '--help']) {
    it(flag, async () => {
      const run = await runToExit([flag]);
      assert.deepEqual(run.exit, { code: 0, signal: null });
      assertErrorThenUsage(run, '');
      assert.equal(run.fd3, '', 'nothing on fd 3');
    });
  }
});

describe('accepted flag syntax starts a working proxy', () => {
  let backend: TcpBackend;
  before(async () => { backend = await startTcpBackend(V4, echo); });
  after(async () => { await backend.close(); });

  /** dockerd's argv with the two ports given as text. */
  const std = (hp: string, cp: string): string[] =>
    ['-proto', 'tcp', '-host-ip', V4, '-host-port', hp, '-container-ip', V4, '-container-port', cp];
  const cases: Array<{ name: string; args: (hp: number, cp: number) => string[] }> = [
    { name: '-flag=value', args: (hp, cp) =>
      ['-proto=tcp', `-host-ip=${V4}`, `-host-port=${hp}`, `-container-ip=${V4}`, `-container-port=${cp}`] },
    { name: '--flag value', args: (hp, cp) =>
      ['--proto', 'tcp', '--host-ip', V4, '--host-port', `${hp}`, '--container-ip', V4, '--container-port', `${cp}`] },
    { name: 'hex host port (0x)', args: (hp, cp) => std(`0x${hp.toString(16)}`, `${cp}`) },
    { name: 'octal host port (0o)', args: (hp, cp) => std(`0o${hp.toString(8)}`, `${cp}`) },
    { name: 'octal host port (leading 0)', args: (hp, cp) => std(`0${hp.toString(8)}`, `${cp}`) },
    { name: 'hex container port', args: (hp, cp) => std(`${hp}`, `0X${cp.toString(16).toUpperCase()}`) },
    // If the first -host-port won, the proxy would listen elsewhere and the echo would fail.
    { name: 'repeated flag: the last one wins', args: (hp, cp) => ['-host-port', '1', ...std(`${hp}`, `${cp}`)] },
    // Go stops at the first positional argument and ignores the rest: this is still TCP.
    { name: 'parsing stops at the first positional', args: (hp, cp) => [...std(`${hp}`, `${cp}`), 'extra', '-proto', 'udp'] },
    { name: '-- ends the flags', args: (hp, cp) => [...std(`${hp}`, `${cp}`), '--', '-proto', 'udp'] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const hostPort = await reservePort('tcp', V4);
      const proxy = await awaitReady(spawnProxy(c.args(hostPort, backend.port)));
      assert.equal((await tcpRoundTrip(V4, hostPort, 'syntax')).toString(), 'syntax');
      assert.deepEqual(await proxy.stop(), { code: 0, signal: null });
    });
  }

  for (const flag of ['-use-listen-fd', '-use-listen-fd=true', '-use-listen-fd=1', '-use-listen-fd=t', '--use-listen-fd=T']) {
    it(`${flag} takes the listener from fd 4`, needs('listen-fd'), async () => {
      const listener = await listenTcp({ host: V4 });
      const hostPort = portOf(listener);
      const args = [...std('1', `${backend.port}`), flag]; // -host-port is ignored in fd mode
      const spawned = spawnProxy(args, { fd4: serverFd(listener) });
      listener.close();
      const proxy = await awaitReady(spawned);
      assert.equal((await tcpRoundTrip(V4, hostPort, 'fd4')).toString(), 'fd4');
      assert.deepEqual(await proxy.stop(), { code: 0, signal: null });
    });
  }
});
