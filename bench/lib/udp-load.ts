// Drives bench/lib/udp-load.py: a counting sink on the backend port and an unpaced sender.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runChecked, startTracked } from './procs.ts';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'udp-load.py');
// Debian's interpreter when present: a version-manager shim on PATH can add 100 ms per start.
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface UdpResult {
  readonly sent: number;
  readonly delivered: number;
  readonly seconds: number;
}

function readJson(text: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(text.trim().split('\n').pop() ?? '{}');
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`udp-load.py printed ${text}`);
  return { ...parsed };
}

function num(record: Record<string, unknown>, key: string): number {
  const value = record[key];
  if (typeof value !== 'number') throw new Error(`udp-load.py result has no ${key}`);
  return value;
}

/** Starts a sink on `sinkPort`, sends `size`-byte datagrams to `sendPort` for `seconds`. */
export async function runUdpLoad(sinkPort: number, sendPort: number, seconds: number, size: number): Promise<UdpResult> {
  const sink = startTracked(PYTHON, [SCRIPT, 'sink', String(sinkPort), String(seconds + 10)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  sink.child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString(); });
  const closed = new Promise<void>((resolve) => sink.child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    sink.child.stderr?.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve(); });
    void sink.exited.then(() => reject(new Error('udp sink exited before it was ready')));
  });
  const sent = readJson(await runChecked(PYTHON, [SCRIPT, 'send', String(sendPort), String(seconds), String(size)],
    (seconds + 30) * 1000));
  const exit = await sink.exited;
  await closed;
  if (exit.code !== 0) throw new Error(`udp sink failed (status ${String(exit.code)})`);
  const received = readJson(out);
  return { sent: num(sent, 'packets'), delivered: num(received, 'packets'), seconds: num(sent, 'seconds') };
}
