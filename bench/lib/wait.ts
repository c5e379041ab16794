// Small waiting helpers shared by the backends.
import { isBound } from '../../test/helpers/ports.ts';
import type { Tracked } from './procs.ts';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `proc` listens on 127.0.0.1:port, or throws when it exits or 10 s pass. */
export async function untilListening(proc: Tracked, proto: 'tcp' | 'udp', port: number, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const exit = proc.exit();
    if (exit !== undefined) throw new Error(`${what} exited (status ${String(exit.code)}) before listening on ${port}`);
    if (isBound(proto, port)) return;
    await sleep(5);
  }
  throw new Error(`${what} did not listen on ${proto} port ${port} within 10 s`);
}
