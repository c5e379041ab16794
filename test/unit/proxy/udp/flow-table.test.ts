// The UDP flow table with a fake clock: idle expiry counts activity, LRU eviction, one timer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowTable, type Clock, type ExpiryReason } from '../../../../src/proxy/udp/flow-table.ts';

/** A clock whose time moves only when the test says so; it runs due timers as it moves. */
class FakeClock implements Clock {
  time = 0;
  timers: Array<{ due: number; callback: () => void; live: boolean }> = [];
  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, delayMs: number): () => void {
    const timer = { due: this.time + delayMs, callback, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  get pending(): number {
    return this.timers.filter((timer) => timer.live).length;
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const next = this.timers.filter((timer) => timer.live && timer.due <= end).sort((a, b) => a.due - b.due)[0];
      if (next === undefined) break;
      this.time = Math.max(this.time, next.due);
      next.live = false;
      next.callback();
    }
    this.time = end;
  }
}

function table(idleTimeoutMs: number, maxFlows: number) {
  const clock = new FakeClock();
  const expired: Array<[string, ExpiryReason]> = [];
  const flows = new FlowTable<string>({ idleTimeoutMs, maxFlows, clock, onExpire: (flow, reason) => expired.push([flow, reason]) });
  return { clock, expired, flows };
}

describe('FlowTable idle expiry', () => {
  it('expires a flow exactly one timeout after its last activity', () => {
    const { clock, expired, flows } = table(1000, 10);
    flows.add('a', 'A');
    clock.advance(999);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, [['A', 'idle']]);
    assert.equal(flows.size, 0);
    assert.equal(clock.pending, 0, 'no timer left when the table is empty');
  });
  it('keeps a flow alive while it is touched (traffic either way)', () => {
    const { clock, expired, flows } = table(1000, 10);
    flows.add('a', 'A');
    for (let step = 0; step < 20; step++) {
      clock.advance(500);
      assert.equal(flows.touch('a'), 'A');
    }
    assert.deepEqual(expired, []);
    clock.advance(1000);
    assert.deepEqual(expired, [['A', 'idle']]);
  });
  it('expires idle flows and keeps busy ones', () => {
    const { clock, expired, flows } = table(1000, 10);
    flows.add('a', 'A');
    flows.add('b', 'B');
    clock.advance(600);
    flows.touch('a');
    clock.advance(600);
    assert.deepEqual(expired, [['B', 'idle']]);
    assert.equal(flows.touch('a'), 'A');
  });
  it('arms at most one timer at a time', () => {
    const { clock, flows } = table(1000, 100);
    for (let index = 0; index < 50; index++) flows.add(`k${index}`, `F${index}`);
    assert.equal(clock.pending, 1);
  });
});

describe('FlowTable limit', () => {
  it('evicts the least recently used flow when full', () => {
    const { expired, flows } = table(60_000, 3);
    flows.add('a', 'A');
    flows.add('b', 'B');
    flows.add('c', 'C');
    flows.touch('a');
    flows.add('d', 'D');
    assert.deepEqual(expired, [['B', 'evicted']]);
    assert.equal(flows.size, 3);
    assert.equal(flows.touch('b'), undefined);
  });
  it('stays within the limit under a flood of new keys', () => {
    const { expired, flows } = table(60_000, 100);
    for (let index = 0; index < 10_000; index++) flows.add(`k${index}`, `F${index}`);
    assert.equal(flows.size, 100);
    assert.equal(expired.length, 9_900);
    assert.ok(expired.every(([, reason]) => reason === 'evicted'));
  });
});

describe('FlowTable delete and clear', () => {
  it('deletes only the expected flow when told which', () => {
    const { expired, flows } = table(1000, 10);
    flows.add('a', 'A1');
    flows.delete('a', 'closed', 'A0');
    assert.equal(flows.size, 1);
    flows.delete('a', 'closed', 'A1');
    assert.deepEqual(expired, [['A1', 'closed']]);
  });
  it('clear() ends every flow and the timer', () => {
    const { clock, expired, flows } = table(1000, 10);
    flows.add('a', 'A');
    flows.add('b', 'B');
    flows.clear();
    assert.deepEqual(expired, [['A', 'closed'], ['B', 'closed']]);
    assert.equal(clock.pending, 0);
  });
});
