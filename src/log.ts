// Logging: pino JSON lines on stderr, written synchronously (no thread pool, no unbounded buffer in
// bursts; node-notes §6), optionally also appended to a file. The only file importing pino.
import pino from 'pino';
import type { LogLevel } from './config.js';

export type Logger = pino.Logger;

export interface LogOptions {
  readonly level: LogLevel;
  /** Also append here; opened now, so a bad path is a startup error. */
  readonly file: string | undefined;
  /** Fields on every line, for example the mapping. */
  readonly base: Readonly<Record<string, string | number>>;
}

/** createLogger builds the process logger; throws if the log file cannot be opened. */
export function createLogger(options: LogOptions): Logger {
  const stderr = pino.destination({ dest: 2, sync: true });
  const settings = { level: options.level, base: { pid: process.pid, ...options.base } };
  if (options.file === undefined) return pino(settings, stderr);
  const file = pino.destination({ dest: options.file, sync: true, append: true, mkdir: false });
  return pino(settings, pino.multistream([{ level: 'trace', stream: stderr }, { level: 'trace', stream: file }]));
}

/** A logger that drops everything, for tests and for code paths before the real one exists. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
