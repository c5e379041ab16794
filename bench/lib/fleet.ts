// One running proxy per candidate for a scenario's lifetime (or, with `fresh`, a new one for each
// measurement). A proxy that dies under test is recorded as a problem, the measurement is
// discarded, and a fresh one takes its place.
import { type Candidate, type Mapping, type RunningProxy, StartError, startCandidate } from './candidates.ts';
import type { Exit } from './procs.ts';
import { osChosenPort } from '../../test/helpers/ports.ts';
import { LOOPBACK } from '../../test/helpers/net.ts';
import type { RunSettings, Sample } from './scenario.ts';

function describeExit(exit: Exit): string {
  return exit.signal === null ? `exit status ${String(exit.code)}` : `signal ${exit.signal}`;
}

export class Fleet {
  readonly #settings: RunSettings;
  readonly #proto: 'tcp' | 'udp';
  readonly #containerPort: number;
  readonly #fresh: boolean;
  readonly #proxies = new Map<Candidate, RunningProxy>();

  /** With `fresh`, every measurement gets a newly started proxy, stopped right after it. */
  constructor(settings: RunSettings, proto: 'tcp' | 'udp', containerPort: number, fresh = false) {
    this.#settings = settings;
    this.#proto = proto;
    this.#containerPort = containerPort;
    this.#fresh = fresh;
  }

  async #start(candidate: Candidate): Promise<RunningProxy> {
    for (let attempt = 1; ; attempt++) {
      // A UDP mapping needs the port free for UDP: a TCP probe alone once picked a port a UDP socket held.
      const mapping: Mapping = { proto: this.#proto, hostPort: await osChosenPort(this.#proto === 'udp' ? 'tcp+udp' : 'tcp', LOOPBACK.v4), containerPort: this.#containerPort };
      try {
        const proxy = await startCandidate(candidate, mapping, this.#settings.tools);
        this.#proxies.set(candidate, proxy);
        return proxy;
      } catch (error) {
        // The port was taken between the probe and the proxy's bind: try another one.
        if (attempt >= 3 || !(error instanceof StartError) || !/address already in use|never bound/.test(error.message)) throw error;
      }
    }
  }

  /** Starts every candidate (in order, so start-up never overlaps); nothing to do when fresh. */
  async startAll(candidates: readonly Candidate[]): Promise<void> {
    if (this.#fresh) return;
    for (const candidate of candidates) await this.#start(candidate);
  }

  /** Runs `measure` against `candidate`'s proxy; discards the sample if the proxy died meanwhile. */
  async measure(candidate: Candidate, measure: (proxy: RunningProxy) => Promise<Sample>): Promise<Sample> {
    let proxy = this.#proxies.get(candidate) ?? await this.#start(candidate);
    const before = proxy.died();
    if (before !== undefined) {
      this.#settings.problem(candidate, `${this.#proto} proxy died between measurements (${describeExit(before)}); restarted`);
      proxy = await this.#start(candidate);
    }
    try {
      const sample = await measure(proxy);
      const after = proxy.died();
      if (after !== undefined) {
        this.#settings.problem(candidate, `${this.#proto} proxy died during a measurement (${describeExit(after)})`);
        throw new Error(`${candidate} died during the measurement (${describeExit(after)})`);
      }
      return sample;
    } finally {
      if (this.#fresh) await this.#stop(candidate, proxy);
    }
  }

  async #stop(candidate: Candidate, proxy: RunningProxy): Promise<void> {
    this.#proxies.delete(candidate);
    const alreadyDead = proxy.died();
    const exit = await proxy.stop();
    if (alreadyDead === undefined && exit !== undefined && candidate !== 'socat' && (exit.code !== 0 || exit.signal !== null)) {
      this.#settings.problem(candidate, `SIGINT stop ended with ${describeExit(exit)}, dockerd expects status 0`);
    }
  }

  /** Stops all with SIGINT, as dockerd does; a docker-proxy must then exit with status 0. */
  async stopAll(): Promise<void> {
    for (const [candidate, proxy] of [...this.#proxies]) await this.#stop(candidate, proxy);
  }
}
