// The command line against a table of Go flag package cases (docs/design/engine-contract.md §1.3) and our extra options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandLine, usageText, type CliResult } from '../../../src/cli/command-line.ts';

const ENGINE_ARGS = ['-proto', 'tcp', '-host-ip', '0.0.0.0', '-host-port', '8080', '-container-ip', '172.17.0.2', '-container-port', '80'];

function parse(args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> {
  return parseCommandLine(args, env, '/usr/bin/docker-proxy');
}

async function config(args: readonly string[], env: Record<string, string> = {}) {
  const result = await parse(args, env);
  assert.equal(result.action, 'run', JSON.stringify(result));
  if (result.action !== 'run') throw new Error('unreachable');
  const [mapping] = result.config.mappings;
  if (mapping === undefined) throw new Error('no mapping');
  return { ...result.config, mapping };
}

async function usageError(args: readonly string[]): Promise<string> {
  const result = await parse(args);
  assert.equal(result.action, 'usage-error');
  return result.action === 'usage-error' ? result.message : '';
}

describe('the engine argv', () => {
  it('parses exactly what dockerd passes', async () => {
    const { mapping } = (await config([...ENGINE_ARGS, '-use-listen-fd']));
    assert.deepEqual(mapping, {
      proto: 'tcp', useListenFd: true,
      frontend: { host: '0.0.0.0', port: 8080, family: 4 },
      backend: { host: '172.17.0.2', port: 80, family: 4 },
    });
  });
  it('takes IPv6 host addresses and picks the family from -host-ip', async () => {
    const { mapping } = (await config(['-proto', 'udp', '-host-ip', '::', '-host-port', '53', '-container-ip', '172.17.0.2', '-container-port', '53']));
    assert.equal(mapping.proto, 'udp');
    assert.deepEqual(mapping.frontend, { host: '::', port: 53, family: 6 });
  });
  it('counts IPv4-mapped IPv6 as IPv4, as Go does', async () => {
    assert.deepEqual((await config([...ENGINE_ARGS, '-host-ip', '::ffff:127.0.0.1'])).mapping.frontend, { host: '127.0.0.1', port: 8080, family: 4 });
  });
  it('treats an empty -host-ip as Go\'s nil IP: IPv6 unspecified', async () => {
    assert.deepEqual((await config([...ENGINE_ARGS, '-host-ip='])).mapping.frontend, { host: '::', port: 8080, family: 6 });
  });
});

describe('Go flag syntax', () => {
  const cases: Array<[string, readonly string[], number]> = [
    ['-flag=value', ['-host-port=81'], 81],
    ['--flag value', ['--host-port', '82'], 82],
    ['--flag=value', ['--host-port=83'], 83],
    ['hex', ['-host-port', '0x50'], 80],
    ['0o octal', ['-host-port', '0o17'], 15],
    ['leading-zero octal', ['-host-port', '017'], 15],
    ['binary', ['-host-port', '0b101'], 5],
    ['underscores', ['-host-port', '1_000'], 1000],
    ['the last repeat wins', ['-host-port', '1', '-host-port', '2'], 2],
  ];
  for (const [name, args, port] of cases) {
    it(name, async () => assert.equal((await config([...ENGINE_ARGS, ...args])).mapping.frontend.port, port));
  }
  it('stops at the first positional argument and ignores the rest', async () => {
    assert.equal((await config([...ENGINE_ARGS, 'extra', '-proto', 'udp'])).mapping.proto, 'tcp');
  });
  it('consumes "--" as a terminator', async () => {
    assert.equal((await config([...ENGINE_ARGS, '--', '-proto', 'udp'])).mapping.proto, 'tcp');
  });
  it('treats a lone "-" as a positional argument', async () => {
    assert.equal((await config([...ENGINE_ARGS, '-', '-proto', 'udp'])).mapping.proto, 'tcp');
  });
  for (const value of ['true', '1', 't', 'T', 'TRUE', 'True']) {
    it(`bool -use-listen-fd=${value}`, async () => assert.equal((await config([...ENGINE_ARGS, `-use-listen-fd=${value}`])).mapping.useListenFd, true));
  }
  for (const value of ['false', '0', 'f', 'F', 'FALSE', 'False']) {
    it(`bool -use-listen-fd=${value}`, async () => assert.equal((await config([...ENGINE_ARGS, `-use-listen-fd=${value}`])).mapping.useListenFd, false));
  }
  it('a bool flag never takes the next argument: "false" becomes the first positional', async () => {
    const { mapping } = (await config([...ENGINE_ARGS, '-use-listen-fd', 'false', '-proto', 'udp']));
    assert.equal(mapping.useListenFd, true);
    assert.equal(mapping.proto, 'tcp');
  });
  it('a value flag takes the next argument even if it looks like a flag', async () => {
    assert.equal(await usageError(['-host-ip', '-proto']), 'invalid value "-proto" for flag -host-ip: invalid IP address: -proto');
  });
});

describe('Go flag errors (exit 2)', () => {
  const cases: Array<[readonly string[], string]> = [
    [['-bogus'], 'flag provided but not defined: -bogus'],
    [['--bogus=1'], 'flag provided but not defined: -bogus'],
    [['-host-port', 'abc'], 'invalid value "abc" for flag -host-port: parse error'],
    [['-host-port', '08'], 'invalid value "08" for flag -host-port: parse error'],
    [['-host-port', '99999999999999999999'], 'invalid value "99999999999999999999" for flag -host-port: value out of range'],
    [['-host-port'], 'flag needs an argument: -host-port'],
    [['-host-ip', '1.2.3'], 'invalid value "1.2.3" for flag -host-ip: invalid IP address: 1.2.3'],
    [['-host-ip', '01.2.3.4'], 'invalid value "01.2.3.4" for flag -host-ip: invalid IP address: 01.2.3.4'],
    [['-container-ip', 'fe80::1%eth0'], 'invalid value "fe80::1%eth0" for flag -container-ip: invalid IP address: fe80::1%eth0'],
    [['-use-listen-fd=yes'], 'invalid boolean value "yes" for -use-listen-fd: parse error'],
    [['---x'], 'bad flag syntax: ---x'],
    [['-=x'], 'bad flag syntax: -=x'],
    [['-host-port', 'a\tb'], 'invalid value "a\\tb" for flag -host-port: parse error'],
    [['-udp-idle-timeout', 'abc'], 'invalid value "abc" for flag -udp-idle-timeout: must be a duration such as 90s, 1m30s or 500ms (at least 1ms)'],
    [['--udp-max-flows=0'], 'invalid value "0" for flag -udp-max-flows: must be 1-1000000'],
    [['--log-level', 'loud'], 'invalid value "loud" for flag -log-level: must be one of trace, debug, info, warn, error, fatal, silent'],
  ];
  for (const [args, message] of cases) {
    it(args.join(' '), async () => assert.equal(await usageError(args), message));
  }
  it('reports the first bad value in order, even if a later repeat is valid', async () => {
    assert.equal(await usageError(['-host-port', 'x', '-host-port', '1']), 'invalid value "x" for flag -host-port: parse error');
  });
});

describe('help and version', () => {
  for (const flag of ['-h', '-help', '--help', '-h=1']) {
    it(`${flag} asks for usage`, async () => assert.equal((await parse([flag])).action, 'help'));
  }
  for (const flag of ['-v', '-version', '--version', '-v=true']) {
    it(`${flag} asks for the version`, async () => assert.equal((await parse([flag, '-proto', 'sctp'])).action, 'version'));
  }
  it('prints docker-proxy\'s usage block in Go\'s layout first', async () => {
    const expected = [
      'Usage of /usr/bin/docker-proxy:',
      '  -container-ip value', '    \tcontainer ip (default 0.0.0.0)',
      '  -container-port int', '    \tcontainer port (default -1)',
      '  -host-ip value', '    \thost ip (default 0.0.0.0)',
      '  -host-port int', '    \thost port (default -1)',
      '  -proto string', '    \tproxy protocol (default "tcp")',
      '  -use-listen-fd', '    \tuse a supplied listen fd',
      '  -v\tprint version information and quit',
      '  -version', '    \tprint version information and quit', '',
    ].join('\n');
    assert.ok(usageText('/usr/bin/docker-proxy').startsWith(expected));
    assert.match(usageText('x'), /-udp-max-flows int\n {4}\t.*\[\$DOCKER_PROXY_UDP_MAX_FLOWS\]/);
  });
});

describe('startup errors (reported on fd 3, exit 1)', () => {
  const failure = async (args: readonly string[], env: Record<string, string> = {}): Promise<string> => {
    const result = await parse(args, env);
    assert.equal(result.action, 'fail');
    return result.action === 'fail' ? result.error.message : '';
  };
  it('rejects unknown protocols', async () => assert.equal(await failure(['-proto', 'foo']), 'unsupported protocol foo'));
  it('explains that Node has no SCTP', async () => assert.match(await failure(['-proto', 'sctp']), /^unsupported protocol sctp \(Node\.js has no kernel SCTP/));
  it('rejects a bad environment value, naming the variable', async () => {
    assert.match(await failure(ENGINE_ARGS, { DOCKER_PROXY_UDP_IDLE_TIMEOUT: 'abc' }), /^invalid value "abc" for DOCKER_PROXY_UDP_IDLE_TIMEOUT: /);
    assert.match(await failure(ENGINE_ARGS, { DOCKER_PROXY_LOG_LEVEL: 'loud' }), /^invalid value "loud" for DOCKER_PROXY_LOG_LEVEL: /);
  });
  it('rejects a container port outside 1-65535', async () => {
    assert.equal(await failure(['-host-port', '0', '-container-port', '-1']), 'invalid container port -1: must be 1-65535');
    assert.equal(await failure(['-host-port', '0', '-container-port', '65536']), 'invalid container port 65536: must be 1-65535');
  });
  it('rejects a host port outside 0-65535 unless the socket is passed', async () => {
    assert.match(await failure(['-container-port', '80', '-host-port', '70000']), /invalid host port/);
    assert.equal((await config(['-container-port', '80', '-host-port', '-1', '-use-listen-fd'])).mapping.useListenFd, true);
  });
});

describe('extra options and their environment variables', () => {
  it('has docker-proxy\'s defaults', async () => {
    const result = (await config(ENGINE_ARGS));
    assert.equal(result.udp.idleTimeoutMs, 90_000);
    assert.equal(result.udp.maxFlows, 4096);
    assert.equal(result.logLevel, 'info');
    assert.equal(result.logFile, undefined);
  });
  it('reads the environment', async () => {
    const result = (await config(ENGINE_ARGS, {
      DOCKER_PROXY_UDP_IDLE_TIMEOUT: '1m30s', DOCKER_PROXY_UDP_MAX_FLOWS: '0x10',
      DOCKER_PROXY_LOG_LEVEL: 'debug', DOCKER_PROXY_LOG_FILE: '/tmp/x.log',
    }));
    assert.deepEqual([result.udp.idleTimeoutMs, result.udp.maxFlows, result.logLevel, result.logFile], [90_000, 16, 'debug', '/tmp/x.log']);
  });
  it('lets a flag win over its variable, in either flag syntax', async () => {
    const env = { DOCKER_PROXY_UDP_IDLE_TIMEOUT: 'abc' };
    assert.equal((await config([...ENGINE_ARGS, '--udp-idle-timeout', '500ms'], env)).udp.idleTimeoutMs, 500);
    assert.equal((await config([...ENGINE_ARGS, '-udp-idle-timeout=2'], env)).udp.idleTimeoutMs, 2000);
  });
  it('ignores an empty variable', async () => assert.equal((await config(ENGINE_ARGS, { DOCKER_PROXY_LOG_LEVEL: '' })).logLevel, 'info'));
});

describe('the engine fast path', () => {
  // dockerd's argv is typed without loading yargs; it must agree with yargs on every such command
  // line. An extra option set to its default (here -log-level info) sends the same argv through yargs.
  const argvs: ReadonlyArray<readonly string[]> = [
    ENGINE_ARGS, [...ENGINE_ARGS, '-use-listen-fd'], ['-proto=udp', '--host-ip', '::1', '-host-port', '0x35', '-container-port', '017'],
    ['-host-ip=', '-container-ip', '::ffff:10.0.0.1', '-use-listen-fd=false', '-container-port', '1'], ['-v'], [],
  ];
  for (const args of argvs) {
    it(args.join(' ') || '(no arguments)', async () => {
      assert.deepEqual(await parse(args), await parse([...args, '-log-level', 'info']));
    });
  }
  // Variables (dockerd's environment) take the direct path too; the same values through yargs.
  const envs: ReadonlyArray<Readonly<Record<string, string>>> = [
    { DOCKER_PROXY_DATA_PATH: 'stream', DOCKER_PROXY_UDP_IDLE_TIMEOUT: '1m30s', DOCKER_PROXY_UDP_MAX_FLOWS: '0x10' },
    { DOCKER_PROXY_METRICS_DIR: '/run/m', DOCKER_PROXY_LOG_LEVEL: 'debug' },
    { DOCKER_PROXY_UDP_IDLE_TIMEOUT: 'abc' },
  ];
  for (const env of envs) {
    it(`${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} with dockerd's argv`, async () => {
      assert.deepEqual(await parse(ENGINE_ARGS, env), await parse([...ENGINE_ARGS, '-metrics-interval', '5s'], env));
    });
  }
});
