// What the report says about the machine and the build under test.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export function machineInfo(): Record<string, string | number> {
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    kernel: os.release(),
    node: process.version,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    'load average at start': os.loadavg().map((each) => each.toFixed(2)).join(' '),
  };
}

/** Short commit of the work tree, with "+dirty" when it has uncommitted changes. */
export function gitDescribe(cwd: string): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty === '' ? commit : `${commit}+dirty`;
  } catch {
    return 'unknown';
  }
}
