// -p SPEC and config-file parsing for the many-mappings mode.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mappingKey } from '../../../src/config.ts';
import { parseConfigFile } from '../../../src/cli/config-file.ts';
import { assertDistinct, parsePublishSpec } from '../../../src/cli/publish-spec.ts';

const keys = (spec: string): string[] => parsePublishSpec(spec).map(mappingKey);

describe('parsePublishSpec', () => {
  it('defaults the host address to 0.0.0.0 and the protocol to tcp', () => {
    assert.deepEqual(keys('8080:172.17.0.2:80'), ['tcp/0.0.0.0:8080->172.17.0.2:80']);
  });
  it('takes a host address and /udp', () => {
    assert.deepEqual(keys('127.0.0.1:53:10.0.0.2:5353/udp'), ['udp/127.0.0.1:53->10.0.0.2:5353']);
  });
  it('takes IPv6 addresses in brackets, and IPv4-mapped ones as IPv4', () => {
    assert.deepEqual(keys('[::1]:8080:[fd00::2]:80/tcp'), ['tcp/[::1]:8080->[fd00::2]:80']);
    assert.deepEqual(parsePublishSpec('[::]:1:[::ffff:10.0.0.1]:2')[0]?.backend, { host: '10.0.0.1', port: 2, family: 4 });
  });
  it('maps a host range onto a container range of the same length', () => {
    assert.deepEqual(keys('8000-8002:10.0.0.2:9000-9002'),
      ['tcp/0.0.0.0:8000->10.0.0.2:9000', 'tcp/0.0.0.0:8001->10.0.0.2:9001', 'tcp/0.0.0.0:8002->10.0.0.2:9002']);
  });
  it('maps a host range onto one container port', () => {
    assert.deepEqual(keys('8000-8001:10.0.0.2:80'), ['tcp/0.0.0.0:8000->10.0.0.2:80', 'tcp/0.0.0.0:8001->10.0.0.2:80']);
  });
  const bad: Array<[string, RegExp]> = [
    ['70000:10.0.0.2:80', /host port 70000/], ['8000:10.0.0.2:0', /container port 0/], ['8000-7999:10.0.0.2:80', /host port 8000-7999/],
    ['8000-8002:10.0.0.2:80-81', /3 ports but the container range has 2/], ['8000:10.0.0.2:80/sctp', /unknown protocol "sctp"/],
    ['8000:10.0.0.300:80', /container address/], ['fd00::1:8000:10.0.0.2:80', /expected/], ['8000:[fd00::2:80', /expected/],
    ['8000:fd00--2:80', /container address/], ['0-1:10.0.0.2:80', /port 0/], ['', /expected/], ['a:b:c', /container address b/],
  ];
  for (const [spec, reason] of bad) it(`refuses ${JSON.stringify(spec)}`, () => assert.throws(() => parsePublishSpec(spec), reason));
});

describe('parseConfigFile', () => {
  it('takes SPEC strings and objects with ranges', () => {
    const mappings = parseConfigFile(JSON.stringify({ mappings: [
      '8080:10.0.0.2:80',
      { proto: 'udp', hostIp: '::1', hostPort: '5000-5001', containerIp: '10.0.0.3', containerPort: 53 },
      { hostPort: 9000, containerIp: '10.0.0.4', containerPort: 90 },
    ] }));
    assert.deepEqual(mappings.map(mappingKey), [
      'tcp/0.0.0.0:8080->10.0.0.2:80', 'udp/[::1]:5000->10.0.0.3:53', 'udp/[::1]:5001->10.0.0.3:53', 'tcp/0.0.0.0:9000->10.0.0.4:90',
    ]);
  });
  const bad: Array<[string, RegExp]> = [
    ['{', /not valid JSON/], ['[]', /expected \{"mappings"/], ['{"mappings": [3]}', /mappings\[0\] must be a SPEC/],
    ['{"mappings": [{"hostPort": 1}]}', /containerIp is missing/], ['{"mappings": ["x"]}', /mappings\[0\] "x"/],
    ['{"mappings": ["1:10.0.0.1:2", "1:10.0.0.9:3"]}', /tcp\/0\.0\.0\.0:1 is mapped twice/],
  ];
  for (const [text, reason] of bad) it(`refuses ${text}`, () => assert.throws(() => parseConfigFile(text), reason));
  it('allows the same port for tcp and udp', () => {
    assert.doesNotThrow(() => assertDistinct([...parsePublishSpec('1:10.0.0.1:2'), ...parsePublishSpec('1:10.0.0.1:2/udp')]));
  });
});
