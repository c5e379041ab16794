// Bounds how often a repeating failure is logged (a refused backend under load, EMFILE), without a
// timer: each key may log a few lines per window, and the next logged line says how many were held back.

const WINDOW_MS = 10_000;
const LINES_PER_WINDOW = 5;

/** Throttle answers "log this one?" per key and counts what it suppressed since the last yes. */
export class Throttle {
  readonly #windows = new Map<string, { start: number; logged: number; suppressed: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Returns undefined to suppress, or how many lines of this key were suppressed before this one. */
  admit(key: string): number | undefined {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (window === undefined || now - window.start >= WINDOW_MS) {
      const suppressed = window?.suppressed ?? 0;
      window = { start: now, logged: 0, suppressed: 0 };
      this.#windows.set(key, window);
      window.logged = 1;
      return suppressed;
    }
    if (window.logged < LINES_PER_WINDOW) {
      window.logged += 1;
      return 0;
    }
    window.suppressed += 1;
    return undefined;
  }
}
