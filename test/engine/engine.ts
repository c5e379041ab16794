// A private dockerd for the engine suite, driven through scripts/engine-*.sh: install what is
// missing, start it with our proxy as --userland-proxy-path, run the docker CLI against it,
// list the proxies it spawned, and tear it all down.
import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { childrenOf } from './procs.ts';
import { parseProxyArgs, proxyFlags, type ProxyArgs } from './proxy-argv.ts';

const SCRIPTS = fileURLToPath(new URL('../../scripts/', import.meta.url));
/** The client from Debian's docker.io, the same version as its dockerd. */
const DOCKER_CLI = process.env['DOCKER_CLI'] ?? '/usr/bin/docker';

/** What a finished command printed, and how it exited. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion; never throws for a non-zero exit (the caller decides). */
export function run(file: string, args: readonly string[], timeoutMs: number,
  env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err === null) { resolve({ code: 0, stdout, stderr }); return; }
      if (typeof err.code === 'number') { resolve({ code: err.code, stdout, stderr }); return; }
      if (err.killed) { reject(new Error(`${file} ${args.join(' ')}: timed out after ${timeoutMs} ms`)); return; }
      reject(err);
    });
  });
}

async function runScript(name: string, args: readonly string[], timeoutMs: number): Promise<string> {
  // The owner pid lets a later run reap this engine if the test process dies without `after`.
  const env = { ...process.env, ENGINE_OWNER_PID: String(process.pid), DOCKER_CLI };
  const result = await run('bash', [`${SCRIPTS}${name}`, ...args], timeoutMs, env);
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** A running proxy that dockerd spawned. */
export interface SpawnedProxy {
  readonly pid: number;
  readonly argv: readonly string[];
  readonly args: ProxyArgs;
}

/** A private dockerd with its own containerd, bridge and state dir. */
export class Engine {
  readonly dir: string;
  readonly proxyPath: string;
  readonly dockerdPid: number;

  private constructor(dir: string, proxyPath: string) {
    this.dir = dir;
    this.proxyPath = proxyPath;
    this.dockerdPid = Number(readFileSync(`${dir}/dockerd.pid`, 'utf8').trim());
  }

  /** Installs what is missing (apt), then starts dockerd with `proxyPath` as its userland proxy. */
  static async start(proxyPath: string): Promise<Engine> {
    if (process.getuid?.() !== 0) throw new Error('the engine suite must run as root (dockerd, bridge, cgroups)');
    await runScript('engine-install.sh', [], 600_000);
    const dir = await runScript('engine-dockerd.sh', ['start', proxyPath], 120_000);
    return new Engine(dir, proxyPath);
  }

  /** Runs the docker CLI against this engine. */
  docker(args: readonly string[], timeoutMs = 60_000): Promise<RunResult> {
    return run(DOCKER_CLI, ['-H', `unix://${this.dir}/docker.sock`, ...args], timeoutMs);
  }

  /** Like docker(), but throws with the CLI's stderr on a non-zero exit. */
  async mustDocker(args: readonly string[], timeoutMs = 60_000): Promise<string> {
    const result = await this.docker(args, timeoutMs);
    if (result.code !== 0) throw new Error(`docker ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
    return result.stdout.trim();
  }

  /** Builds the busybox + socat test image (scripts/engine-image.sh). */
  async buildTestImage(tag: string): Promise<void> {
    await runScript('engine-image.sh', [`${this.dir}/docker.sock`, tag], 120_000);
  }

  /** The proxies dockerd is running now: its children that run our proxy binary. */
  proxies(): SpawnedProxy[] {
    return childrenOf(this.dockerdPid).flatMap(({ pid, argv }) => {
      const flags = proxyFlags(argv, this.proxyPath);
      return flags === undefined ? [] : [{ pid, argv, args: parseProxyArgs(flags) }];
    });
  }

  /** dockerd's log from byte `from` on (see logSize). */
  logSince(from: number): string {
    return readFileSync(`${this.dir}/dockerd.log`).subarray(from).toString('utf8');
  }

  logSize(): number {
    return statSync(`${this.dir}/dockerd.log`).size;
  }

  /** The last `lines` lines of dockerd's log, for failure messages. */
  logTail(lines = 30): string {
    return this.logSince(0).split('\n').slice(-lines).join('\n');
  }

  /** Removes every container, stops dockerd and containerd, unmounts, deletes bridge and state. */
  async stop(): Promise<void> {
    await runScript('engine-dockerd.sh', ['stop', this.dir], 180_000);
  }
}
