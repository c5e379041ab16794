// One rendering of the exposition, shared by the scrapes that arrive while it is fresh. At 1000
// mappings one rendering is ~570 KiB of text and several milliseconds of the JavaScript thread
// that also accepts connections, so clients asking faster than that (a pipelining, non-reading
// client, say) must not each cost a rendering. A rendering counts as fresh for a few times what it
// cost to make: the thread then spends at most 1/(SHARE_FACTOR + 1) of its time rendering, and an
// answer is never older than a few renderings' time (a few ms for a handful of mappings).
const SHARE_FACTOR = 4;

interface Rendering {
  readonly body: Buffer;
  readonly doneAt: number;
  readonly costMs: number;
}

export class SharedRender {
  readonly #render: () => Promise<string>;
  #last: Rendering | undefined;
  #pending: Promise<Buffer> | undefined;

  constructor(render: () => Promise<string>) {
    this.#render = render;
  }

  /** The current exposition as bytes: a fresh rendering, or one made a moment ago. */
  get(): Promise<Buffer> {
    const last = this.#last;
    if (last !== undefined && performance.now() - last.doneAt < SHARE_FACTOR * last.costMs) return Promise.resolve(last.body);
    this.#pending ??= this.#renderNow().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #renderNow(): Promise<Buffer> {
    const started = performance.now();
    const body = Buffer.from(await this.#render());
    const doneAt = performance.now();
    this.#last = { body, doneAt, costMs: doneAt - started };
    return body;
  }
}
