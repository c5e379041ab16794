// Supervisor runs the set of mappings of this process: one in docker-proxy's own mode, any number
// with -p/--config. Each mapping is the same Proxy as in the single mode. Opening a set is atomic
// (all bound, or none left bound); a reload opens what is new, closes what is gone, and leaves
// unchanged mappings and their live connections alone.
import { describeMapping, mappingKey, type Mapping } from './config.js';
import { ProxyError, describeError } from './errors.js';
import { withFields, type Logger } from './log.js';
import type { ConnectionObserver, Proxy, TcpSnapshot, UdpSettings, UdpSnapshot } from './proxy/contract.js';
import { createProxy } from './proxy/create.js';
import type { StartRelay } from './proxy/tcp/relay.js';

/** How the supervisor tells the metrics about mappings coming and going. */
export interface MappingRegistry {
  observerFor(mapping: Mapping): ConnectionObserver;
  add(mapping: Mapping, snapshot: () => TcpSnapshot | UdpSnapshot): void;
  remove(mapping: Mapping): void;
}

export interface SupervisorDeps {
  readonly log: Logger;
  readonly startRelay: StartRelay;
  readonly udp: UdpSettings;
  readonly metrics?: MappingRegistry | undefined;
  /** Prefix start-up errors with the mapping (many mappings); docker-proxy's own mode keeps its exact texts. */
  readonly nameMappingsInErrors: boolean;
}

/** What a reload did. */
export interface ReloadResult {
  readonly added: number;
  readonly removed: number;
  readonly kept: number;
  readonly failed: readonly string[];
}

/** Supervisor owns every running Proxy; see the file comment. */
export class Supervisor {
  readonly #running = new Map<string, { mapping: Mapping; proxy: Proxy }>();
  readonly #deps: SupervisorDeps;

  constructor(deps: SupervisorDeps) {
    this.#deps = deps;
  }

  get size(): number {
    return this.#running.size;
  }

  /** Opens every mapping, or none: on the first failure all those opened are closed and it throws. */
  async openAll(mappings: readonly Mapping[]): Promise<void> {
    const opened: string[] = [];
    try {
      for (const mapping of mappings) {
        await this.#open(mapping);
        opened.push(mappingKey(mapping));
      }
    } catch (error) {
      for (const key of opened) this.#close(key);
      throw error;
    }
  }

  /**
   * Makes the running set equal `wanted`. Removed mappings close first (a changed target frees its
   * host port before the new one binds); a mapping that fails to open is reported, the rest stand.
   */
  async reload(wanted: readonly Mapping[]): Promise<ReloadResult> {
    const wantedKeys = new Map(wanted.map((mapping) => [mappingKey(mapping), mapping]));
    const gone = [...this.#running.keys()].filter((key) => !wantedKeys.has(key));
    for (const key of gone) this.#close(key);
    const failed: string[] = [];
    let added = 0;
    for (const [key, mapping] of wantedKeys) {
      if (this.#running.has(key)) continue;
      try {
        await this.#open(mapping);
        added += 1;
      } catch (error) {
        failed.push(describeError(error));
      }
    }
    return { added, removed: gone.length, kept: wantedKeys.size - added - failed.length, failed };
  }

  /** Closes every mapping now (shutdown). */
  closeAll(): void {
    for (const key of [...this.#running.keys()]) this.#close(key);
  }

  async #open(mapping: Mapping): Promise<void> {
    const { metrics } = this.#deps;
    const name = describeMapping(mapping);
    let proxy: Proxy;
    try {
      proxy = await createProxy(mapping, {
        log: withFields(this.#deps.log, { mapping: name }), startRelay: this.#deps.startRelay, udp: this.#deps.udp,
        observer: metrics?.observerFor(mapping),
      });
    } catch (error) {
      // Name the mapping: with hundreds of them, "address already in use" alone says too little.
      if (error instanceof ProxyError && this.#deps.nameMappingsInErrors) throw new ProxyError(`mapping ${name}: ${error.message}`, { cause: error });
      throw error;
    }
    this.#running.set(mappingKey(mapping), { mapping, proxy });
    metrics?.add(mapping, () => proxy.snapshot());
  }

  #close(key: string): void {
    const entry = this.#running.get(key);
    if (entry === undefined) return;
    this.#running.delete(key);
    entry.proxy.close();
    this.#deps.metrics?.remove(entry.mapping);
  }
}
