// The UDP flow table: one entry per client address:port, in least-recently-used order, expired
// after an idle timeout that counts traffic both ways, and bounded so that a flood of new source
// ports evicts old flows instead of exhausting memory and descriptors. The clock is injected.
import { MAX_TIMER_MS } from '../../config.js';

/** The timer functions the table needs; tests pass a fake one. */
export interface Clock {
  now(): number;
  /** Runs callback once after delayMs; returns a function that cancels it. */
  setTimer(callback: () => void, delayMs: number): () => void;
}

/** The real clock; its timer does not keep the process alive on its own. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => {
    const timer = setTimeout(callback, delayMs).unref();
    return () => clearTimeout(timer);
  },
};

/** Why a flow left the table. */
export type ExpiryReason = 'idle' | 'evicted' | 'closed';

export interface FlowTableOptions<F> {
  readonly idleTimeoutMs: number;
  readonly maxFlows: number;
  readonly clock: Clock;
  /** Called once for every flow that leaves the table, whatever the reason. */
  readonly onExpire: (flow: F, reason: ExpiryReason) => void;
}

interface Entry<F> {
  readonly flow: F;
  lastActive: number;
}

/** FlowTable maps a client key to its flow; see the file comment. */
export class FlowTable<F> {
  // A Map iterates in insertion order: re-inserting on every touch keeps it in LRU order, so the
  // first entry is both the eviction victim and the next to go idle.
  readonly #entries = new Map<string, Entry<F>>();
  readonly #options: FlowTableOptions<F>;
  #cancelTimer: (() => void) | undefined = undefined;
  #timerDue = Number.POSITIVE_INFINITY;

  constructor(options: FlowTableOptions<F>) {
    this.#options = options;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Returns the flow of a client and marks it active now, or undefined. */
  touch(key: string): F | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    entry.lastActive = this.#options.clock.now();
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.flow;
  }

  /** Adds a new flow, evicting the least recently used ones if the table is full. */
  add(key: string, flow: F): void {
    this.delete(key, 'closed');
    while (this.#entries.size >= this.#options.maxFlows) this.#expireFirst('evicted');
    this.#entries.set(key, { flow, lastActive: this.#options.clock.now() });
    this.#arm();
  }

  /** Removes a flow (for example after its backend socket failed); only `expected` if given. */
  delete(key: string, reason: ExpiryReason, expected?: F): void {
    const entry = this.#entries.get(key);
    if (entry === undefined || (expected !== undefined && entry.flow !== expected)) return;
    this.#entries.delete(key);
    this.#options.onExpire(entry.flow, reason);
  }

  /** Removes every flow and stops the timer. */
  clear(): void {
    this.#disarm();
    for (const key of [...this.#entries.keys()]) this.delete(key, 'closed');
  }

  #expireFirst(reason: ExpiryReason): void {
    const first = this.#entries.keys().next();
    if (first.done !== true) this.delete(first.value, reason);
  }

  /** Expires every idle flow, then sleeps until the oldest remaining one could be idle. */
  #sweep(): void {
    this.#cancelTimer = undefined;
    this.#timerDue = Number.POSITIVE_INFINITY;
    const now = this.#options.clock.now();
    for (const [key, entry] of this.#entries) {
      if (now - entry.lastActive < this.#options.idleTimeoutMs) break;
      this.delete(key, 'idle');
    }
    this.#arm();
  }

  #arm(): void {
    const oldest = this.#entries.values().next();
    if (oldest.done === true) {
      this.#disarm();
      return;
    }
    const due = oldest.value.lastActive + this.#options.idleTimeoutMs;
    if (this.#cancelTimer !== undefined && this.#timerDue <= due) return;
    this.#disarm();
    this.#timerDue = due;
    // Clamped: Node turns a delay beyond its limit into 1 ms, which would make the sweep spin.
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, due - this.#options.clock.now()));
    this.#cancelTimer = this.#options.clock.setTimer(() => this.#sweep(), delay);
  }

  #disarm(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#timerDue = Number.POSITIVE_INFINITY;
  }
}
