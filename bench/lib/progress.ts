// One line per step or measurement on stderr, prefixed with the elapsed time of the run.
const started = performance.now();

/** Prints `line` to stderr with the seconds since the run began. */
export function progress(line: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${seconds}s] ${line}\n`);
}
