// The flag table itself: every default is a value its own parser accepts (a default that failed
// would be dropped silently by the typing), and every extra option has its variable in the usage.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FLAGS, FLAG_NAMES, envName, flagNamed, usageText, type FlagSpec } from '../../../src/cli/flags.ts';

describe('the flag table', () => {
  for (const name of FLAG_NAMES) {
    const spec: FlagSpec<unknown> = FLAGS[name];
    const fallback = spec.default;
    if (fallback === undefined) continue;
    it(`-${name}'s default ${JSON.stringify(fallback)} parses`, () => assert.ok('value' in spec.parse(fallback)));
  }
  it('names each extra option\'s variable in the usage', () => {
    const usage = usageText('docker-proxy');
    for (const name of FLAG_NAMES.filter((flag) => FLAGS[flag].group === 'extra')) assert.ok(usage.includes(`[$${envName(name)}]`), name);
  });
  it('prints Go\'s default only where it is not the zero value', () => {
    const usage = usageText('docker-proxy');
    assert.match(usage, /-udp-idle-timeout string\n\s+\t.* \(default "90s"\)/);
    assert.match(usage, /-udp-max-flows int\n\s+\t.* \(default 4096\)/);
    assert.doesNotMatch(usage, /-use-listen-fd\n\s+\t.*default/);
    assert.doesNotMatch(usage, /-config string\n\s+\t.*default/);
  });
  it('resolves -p to -publish', () => assert.equal(flagNamed('p'), 'publish'));
  it('takes --user as USER or USER:GROUP, names or numbers, and nothing else', () => {
    assert.deepEqual(FLAGS.user.parse('nobody'), { value: { user: 'nobody', group: undefined } });
    assert.deepEqual(FLAGS.user.parse('65534:65534'), { value: { user: '65534', group: '65534' } });
    assert.deepEqual(FLAGS.user.parse('svc-proxy:nogroup'), { value: { user: 'svc-proxy', group: 'nogroup' } });
    for (const bad of ['', ':', 'a:', ':b', 'a:b:c', 'has space', '-rf', '../etc']) assert.ok('reason' in FLAGS.user.parse(bad), bad);
  });
  it('has -seccomp as a Go bool that is on unless set false', () => {
    assert.deepEqual(FLAGS.seccomp.parse(FLAGS.seccomp.default ?? ''), { value: true });
    assert.deepEqual(FLAGS.seccomp.parse('false'), { value: false });
    assert.match(usageText('docker-proxy'), /-seccomp\n\s+\t.* \[\$DOCKER_PROXY_SECCOMP\] \(default true\)/);
  });
  it('takes the old data-path words as aliases and keeps the spelling for messages', () => {
    assert.deepEqual(FLAGS['data-path'].parse('splice'), { value: { path: 'native', spelled: 'splice' } });
    assert.deepEqual(FLAGS['data-path'].parse('stream'), { value: { path: 'js', spelled: 'stream' } });
    assert.deepEqual(FLAGS['data-path'].parse('native'), { value: { path: 'native', spelled: 'native' } });
    assert.ok('reason' in FLAGS['data-path'].parse('toString'));
  });
});
