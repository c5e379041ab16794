// The textfile exporter: every interval, write the metrics to DIR/<proto>_<host-ip>_<host-port>.prom
// atomically (write a temporary file, then rename), the node_exporter textfile-collector
// convention, so hundreds of engine-spawned proxies are scraped through one endpoint.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_TIMER_MS } from '../config.js';
import { describeError } from '../errors.js';

export interface TextfileOptions {
  readonly dir: string;
  readonly fileName: string;
  readonly intervalMs: number;
  readonly render: () => Promise<string>;
  readonly onError: (message: string) => void;
}

/** TextfileWriter keeps DIR/<name>.prom fresh while running and removes it on stop(). */
export class TextfileWriter {
  readonly #path: string;
  readonly #temp: string;
  readonly #options: TextfileOptions;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: TextfileOptions) {
    this.#options = options;
    this.#path = join(options.dir, options.fileName);
    // node_exporter reads only *.prom, so the half-written file is never collected.
    this.#temp = `${this.#path}.${process.pid}.tmp`;
  }

  get path(): string {
    return this.#path;
  }

  /** Writes the first file now (a failure here is a startup error) and then every interval. */
  async start(): Promise<void> {
    await this.#write(true);
    this.#timer = setInterval(() => void this.#write(false), Math.min(this.#options.intervalMs, MAX_TIMER_MS));
    this.#timer.unref();
  }

  /** Stops writing and removes the file: a stopped proxy must not look alive. Synchronous, for exit paths. */
  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const path of [this.#path, this.#temp]) {
      try {
        unlinkSync(path);
      } catch {
        // Never written, or already gone.
      }
    }
  }

  async #write(throwErrors: boolean): Promise<void> {
    const text = await this.#options.render();
    if (this.#stopped) return;
    try {
      writeFileSync(this.#temp, text, { mode: 0o644 });
      renameSync(this.#temp, this.#path);
    } catch (error) {
      const message = `cannot write metrics file ${this.#path}: ${describeError(error)}`;
      if (throwErrors) throw new Error(message, { cause: error });
      this.#options.onError(message);
    }
  }
}
