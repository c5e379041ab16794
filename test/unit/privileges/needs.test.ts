// Which capabilities a configuration keeps after start-up, and which --user keeps root.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import type { ProxyConfig } from '../../../src/config.ts';
import { isRoot } from '../../../src/privileges/identity.ts';
import { capabilitiesNeeded } from '../../../src/privileges/needs.ts';

async function config(args: readonly string[], env: Record<string, string> = {}): Promise<ProxyConfig> {
  const result = await parseCommandLine(args, env, 'docker-proxy');
  if (result.action !== 'run') throw new Error(`expected a run, got ${result.action}`);
  return result.config;
}

const mapping = (proto: string): string[] => ['-proto', proto, '-host-ip', '127.0.0.1', '-host-port', '8080', '-container-ip', '127.0.0.1', '-container-port', '80'];
const names = async (args: readonly string[], env: Record<string, string> = {}): Promise<string[]> =>
  capabilitiesNeeded(await config(args, env)).map((need) => need.capability);

describe('capabilities kept after start-up', () => {
  it('TCP on the native or auto path keeps SYS_RESOURCE, for splice pipes', async () => {
    assert.deepEqual(await names(mapping('tcp')), ['SYS_RESOURCE']);
    assert.deepEqual(await names(mapping('tcp'), { DOCKER_PROXY_DATA_PATH: 'native' }), ['SYS_RESOURCE']);
  });
  it('TCP on the js path and UDP keep nothing', async () => {
    assert.deepEqual(await names(mapping('tcp'), { DOCKER_PROXY_DATA_PATH: 'js' }), []);
    assert.deepEqual(await names(mapping('udp')), []);
    assert.deepEqual(await names(['-p', '127.0.0.1:53:127.0.0.1:53/udp']), []);
  });
  it('a mappings file keeps NET_BIND_SERVICE, since a reload may add a low port', async () => {
    assert.deepEqual(await names(['--config', '/etc/docker-proxy.json']), ['NET_BIND_SERVICE', 'SYS_RESOURCE']);
    assert.deepEqual(await names(['--config', '/etc/docker-proxy.json', '--data-path', 'js']), ['NET_BIND_SERVICE']);
  });
});

describe('--user root', () => {
  it('is root by name or uid 0, without a group', () => {
    assert.equal(isRoot({ user: 'root', group: undefined }), true);
    assert.equal(isRoot({ user: '0', group: undefined }), true);
    assert.equal(isRoot({ user: '00', group: undefined }), true);
    assert.equal(isRoot({ user: 'nobody', group: undefined }), false);
    assert.equal(isRoot({ user: 'root', group: 'nogroup' }), false, 'a group asks for a change');
  });
});
