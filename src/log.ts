// Logging: pino JSON lines on stderr, written synchronously (no thread pool, no unbounded buffer in
// bursts; docs/design/node-facts.md §6), optionally also appended to a file. The only file importing pino, and
// only when a log line can reach someone: dockerd gives the proxy /dev/null as stderr, and then,
// without a log file, pino is never loaded (it costs start-up time and memory in every proxy).
import { fstatSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LogLevel } from './config.js';

type LogFn = {
  (fields: Record<string, unknown>, message: string): void;
  (message: string): void;
};

/** The logging calls this program makes; a pino logger is one. */
export interface Logger {
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;
}

export interface LogOptions {
  readonly level: LogLevel;
  /** Also append here; opened now, so a bad path is a startup error. */
  readonly file: string | undefined;
  /** Fields on every line, for example the mapping. */
  readonly base: Readonly<Record<string, string | number>>;
}

const discard: LogFn = () => undefined;

/** A logger that drops everything. */
export function silentLogger(): Logger {
  return { trace: discard, debug: discard, info: discard, warn: discard, error: discard, fatal: discard };
}

/** True when fd 2 is /dev/null, as dockerd sets it up. */
function stderrIsDevNull(): boolean {
  try {
    const stderr = fstatSync(2);
    const devNull = statSync('/dev/null');
    return stderr.isCharacterDevice() && stderr.rdev === devNull.rdev;
  } catch {
    return false;
  }
}

/** createLogger builds the process logger; rejects if the log file cannot be opened. */
export async function createLogger(options: LogOptions): Promise<Logger> {
  if (options.level === 'silent' || (options.file === undefined && stderrIsDevNull())) return silentLogger();
  const { default: pino } = await import('pino');
  const stderr = pino.destination({ dest: 2, sync: true });
  const settings = { level: options.level, base: { pid: process.pid, ...options.base } };
  // pino takes a destination that is all digits for a file descriptor: "--log-file 3" would write
  // into dockerd's status pipe. An absolute path is never all digits.
  const file = options.file === undefined ? undefined
    : pino.destination({ dest: resolve(options.file), sync: true, append: true, mkdir: false });
  const logger = file === undefined
    ? pino(settings, stderr)
    : pino(settings, pino.multistream([{ level: 'trace', stream: stderr }, { level: 'trace', stream: file }]));
  return {
    trace: logger.trace.bind(logger), debug: logger.debug.bind(logger), info: logger.info.bind(logger),
    warn: logger.warn.bind(logger), error: logger.error.bind(logger), fatal: logger.fatal.bind(logger),
  };
}

/** A logger that adds `fields` to every line (for example the mapping, when one process has many). */
export function withFields(log: Logger, fields: Readonly<Record<string, string>>): Logger {
  const wrap = (fn: LogFn): LogFn => {
    function wrapped(extra: Record<string, unknown>, message: string): void;
    function wrapped(message: string): void;
    function wrapped(first: Record<string, unknown> | string, message?: string): void {
      if (typeof first === 'string') fn({ ...fields }, first);
      else fn({ ...fields, ...first }, message ?? '');
    }
    return wrapped;
  };
  return {
    trace: wrap(log.trace), debug: wrap(log.debug), info: wrap(log.info),
    warn: wrap(log.warn), error: wrap(log.error), fatal: wrap(log.fatal),
  };
}
