// Deadlines for every await in the black-box suite: a broken binary must fail a test
// quickly with a message saying what was awaited, never hang the run.
import { setTimeout as delay } from 'node:timers/promises';

/** Default deadline for one network round trip or one process event. */
export const STEP_MS = 5_000;

/**
 * Resolves like `promise`, or rejects after `ms` with "timed out after …: <what>". A function for
 * `what` is called at the deadline, so the message can say how far the wait got.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${typeof what === 'string' ? what : what()}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `probe` every `everyMs` until it returns true or `ms` pass. Only for state that
 * emits no event (for example the fd count of another process); a failure names `what`.
 */
export async function pollUntil(probe: () => boolean | Promise<boolean>, ms: number, what: string,
  everyMs = 20): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() >= end) throw new Error(`timed out after ${ms} ms: ${what}`);
    await delay(everyMs);
  }
}
