// Pure value parsers: Go's IP rules, Go durations, Go's host:port text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatHostPort, parseDurationMs, parseIp } from '../../src/config.ts';

describe('parseIp (Go net.ParseIP rules)', () => {
  const cases: Array<[string, { address: string; family: 4 | 6 } | undefined]> = [
    ['127.0.0.1', { address: '127.0.0.1', family: 4 }],
    ['::1', { address: '::1', family: 6 }],
    ['FD00::2', { address: 'fd00::2', family: 6 }],
    ['::ffff:10.1.2.3', { address: '10.1.2.3', family: 4 }],
    ['0:0:0:0:0:ffff:10.1.2.3', { address: '10.1.2.3', family: 4 }],
    ['::ffff:a01:203', { address: '10.1.2.3', family: 4 }],
    ['::a01:203', { address: '::a01:203', family: 6 }],
    ['010.1.2.3', undefined],
    ['1.2.3', undefined],
    ['fe80::1%eth0', undefined],
    ['localhost', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of cases) it(JSON.stringify(text), () => assert.deepEqual(parseIp(text), expected));
});

describe('parseDurationMs', () => {
  const cases: Array<[string, number | undefined]> = [
    ['90', 90_000], ['1.5', 1500], ['90s', 90_000], ['1m30s', 90_000], ['500ms', 500], ['1h', 3_600_000],
    ['2.5s', 2500], ['1us', 0.001], ['', undefined], ['s', undefined], ['-1s', undefined], ['1d', undefined], ['1s2', undefined],
  ];
  for (const [text, expected] of cases) it(JSON.stringify(text), () => assert.equal(parseDurationMs(text), expected));
});

describe('formatHostPort', () => {
  it('brackets IPv6 as Go does', () => {
    assert.equal(formatHostPort('::1', 80), '[::1]:80');
    assert.equal(formatHostPort('10.0.0.1', 80), '10.0.0.1:80');
  });
});
