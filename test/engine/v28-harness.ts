// Drives v28-spawn.py, which starts docker-proxy exactly as a moby v28+ dockerd does (socket
// made by the daemon on fd 4, status pipe on fd 3, SIGINT to stop). Node cannot set IP_PKTINFO
// on a socket, so the socket-making part is Python; this side reads its JSON lines.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { STEP_MS, withTimeout } from '../helpers/timeout.ts';

const SCRIPT = fileURLToPath(new URL('./v28-spawn.py', import.meta.url));

export interface V28Options {
  readonly proxy: string;
  readonly proto: 'tcp' | 'udp';
  readonly hostIp: string;
  readonly containerIp: string;
  readonly containerPort: number;
  /** Pass a socket of this type instead (to test the proxy's socket type check). */
  readonly socketProto?: 'tcp' | 'udp';
}

/** The handshake as dockerd saw it: `error` is dockerd's error text, null when ready. */
export interface Status {
  readonly ok: boolean;
  readonly head: string;
  readonly rest: string;
  readonly error: string | null;
  readonly ms: number;
}
/** Whether the proxy closed fd 3 after a good status, and anything it wrote after "0\n". */
export interface Fd3 { readonly closed: boolean; readonly extra: string }
/** How the proxy ended; `stopped`: SIGINT was sent; `killed`: it needed SIGKILL after 10 s. */
export interface Exit {
  readonly code: number | null;
  readonly signal: number | null;
  readonly stopped: boolean;
  readonly killed: boolean;
}

/** One JSON line of v28-spawn.py, with typed access to its fields. */
class Event {
  readonly name: string;
  readonly #fields: object;

  constructor(line: string) {
    const value: unknown = JSON.parse(line);
    const name: unknown = typeof value === 'object' && value !== null ? Reflect.get(value, 'event') : undefined;
    if (typeof value !== 'object' || value === null || typeof name !== 'string') throw new Error(`v28-spawn.py printed ${line}`);
    this.name = name;
    this.#fields = value;
  }

  #bad(key: string): Error {
    return new Error(`v28-spawn.py event ${this.name} has a bad ${key}: ${JSON.stringify(Reflect.get(this.#fields, key))}`);
  }

  str(key: string): string {
    const value: unknown = Reflect.get(this.#fields, key);
    if (typeof value !== 'string') throw this.#bad(key);
    return value;
  }

  num(key: string): number {
    const value: unknown = Reflect.get(this.#fields, key);
    if (typeof value !== 'number') throw this.#bad(key);
    return value;
  }

  bool(key: string): boolean {
    const value: unknown = Reflect.get(this.#fields, key);
    if (typeof value !== 'boolean') throw this.#bad(key);
    return value;
  }

  isNull(key: string): boolean {
    return Reflect.get(this.#fields, key) === null;
  }
}

/** One docker-proxy started like v28+ dockerd starts it. */
export class V28Proxy {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  #stderr = '';
  #port = 0;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    this.#lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (chunk: Buffer) => { this.#stderr += chunk.toString(); });
  }

  /** The host port of the socket passed on fd 4. */
  get port(): number {
    return this.#port;
  }

  /** Makes the socket and starts the proxy; resolves once the port is known. */
  static async start(opts: V28Options): Promise<V28Proxy> {
    const args = [SCRIPT, '--proxy', opts.proxy, '--proto', opts.proto, '--host-ip', opts.hostIp,
      '--container-ip', opts.containerIp, '--container-port', String(opts.containerPort)];
    if (opts.socketProto !== undefined) args.push('--socket-proto', opts.socketProto);
    const proxy = new V28Proxy(spawn('python3', args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    proxy.#port = (await proxy.#next('bound', STEP_MS)).num('port');
    return proxy;
  }

  async #next(name: string, ms: number): Promise<Event> {
    const line = await withTimeout(this.#lines.next(), ms, `v28-spawn.py event "${name}"`);
    if (line.done === true) throw new Error(`v28-spawn.py ended before "${name}": ${this.#stderr.trim()}`);
    const ev = new Event(line.value);
    if (ev.name !== name) throw new Error(`v28-spawn.py: expected "${name}", got ${line.value}`);
    return ev;
  }

  /** The handshake result (dockerd waits 16 s for it). */
  async status(): Promise<Status> {
    const ev = await this.#next('status', 20_000);
    return {
      ok: ev.bool('ok'), head: ev.str('head'), rest: ev.str('rest'),
      error: ev.isNull('error') ? null : ev.str('error'), ms: ev.num('ms'),
    };
  }

  /** After a good status: whether the proxy closed fd 3 (watched for up to 5 s). */
  async fd3(): Promise<Fd3> {
    const ev = await this.#next('fd3', 10_000);
    return { closed: ev.bool('closed'), extra: ev.str('extra') };
  }

  /** Sends SIGINT (dockerd's stop) unless `stop` is false, then waits for the proxy's exit. */
  async exit(stop = true): Promise<Exit> {
    if (stop) this.#child.kill('SIGINT');
    const ev = await this.#next('exit', 15_000);
    return {
      code: ev.isNull('code') ? null : ev.num('code'), signal: ev.isNull('signal') ? null : ev.num('signal'),
      stopped: ev.bool('stopped'), killed: ev.bool('killed'),
    };
  }

  /** For `after`: kills the script if still there; the proxy follows through Pdeathsig. */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}
