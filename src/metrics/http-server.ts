// The metrics endpoint: GET /metrics (exposition format) and GET /healthz, nothing else. A plain
// TCP server with its own small request parser (http-head.ts says why not node:http). Requests are
// small and short-lived by construction, so a slow or hostile client cannot hold it or the proxy:
// the head is bounded in size and in time, a body is never read, connections are capped, and the
// next pipelined request is not started while the previous answer still waits in the socket's
// buffer (a client that sends requests but never reads holds one answer, not one per request).
// The bytes so held are bounded in total as well: past the budget a request gets a short 503.
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { formatHostPort } from '../config.js';
import { describeError, errnoText, errnoCode, ListenError } from '../errors.js';
import { REASONS, Shared, answerFor, responseParts, type Exposition } from './http-answer.js';
import { parseHead, type RequestHead } from './http-head.js';

const MAX_HEADER_BYTES = 8 * 1024;
/** From a connection's start or its previous answer, the time the next request head has to arrive. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Enough for every scraper; a flood beyond it is refused rather than allowed to use up descriptors. */
const MAX_CONNECTIONS = 256;
const MAX_REQUESTS_PER_CONNECTION = 100;
/** One connection: requests one after another (pipelining allowed), each head within the timeout. */
class Connection {
  readonly #shared: Shared;
  readonly #socket: Socket;
  #buffered: Buffer = Buffer.alloc(0);
  /** An answer is being made or still waits in the socket's buffer: the next request waits. */
  #busy = false;
  #clientDone = false;
  #closing = false;
  #served = 0;
  /** Bytes of this connection's answer counted in the shared budget until the socket drains. */
  #held = 0;
  #deadline: NodeJS.Timeout | undefined;

  constructor(shared: Shared, socket: Socket) {
    this.#shared = shared;
    this.#socket = socket;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(this.#deadline);
      this.#release();
    });
    socket.on('end', () => {
      this.#clientDone = true;
      this.#next();
    });
    socket.on('drain', () => this.#drained());
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    this.#arm();
    socket.resume();
  }

  #receive(chunk: Buffer): void {
    if (this.#closing) return;
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    // Pipelined requests wait while one is answered; past a head's worth of them, stop reading
    // (the bytes stay in the kernel) until the queue is worked down.
    if (this.#buffered.length > MAX_HEADER_BYTES) this.#socket.pause();
    this.#next();
  }

  /** An absolute deadline, not an idle timer: a client trickling a byte at a time is still cut off. */
  #arm(): void {
    clearTimeout(this.#deadline);
    // Unref'd: an open scrape never keeps a stopping proxy alive.
    this.#deadline = setTimeout(() => this.#socket.destroy(), REQUEST_TIMEOUT_MS).unref();
  }

  #release(): void {
    this.#shared.queuedBytes -= this.#held;
    this.#held = 0;
  }

  /** Writes a response; true when the socket took it without queueing past its high-water mark. */
  #send(parts: readonly Buffer[], end: boolean): boolean {
    const socket = this.#socket;
    socket.cork();
    let more = true;
    for (const part of parts) more = socket.write(part);
    if (end) socket.end();
    socket.uncork();
    if (!more || end) {
      this.#held = socket.writableLength;
      this.#shared.queuedBytes += this.#held;
    }
    return more;
  }

  /**
   * After the last answer: half-close, and read (and drop) what the client still sends until it
   * closes too, so that unread bytes do not turn the close into a reset that could destroy the
   * answer in flight; the deadline bounds how long that may take (a client that does not read
   * its answer included).
   */
  #finish(parts: readonly Buffer[] = []): void {
    this.#closing = true;
    this.#arm();
    this.#send(parts, true);
    this.#socket.resume();
  }

  #drained(): void {
    this.#release();
    if (this.#closing || !this.#busy) return;
    this.#busy = false;
    this.#arm();
    this.#next();
  }

  #next(): void {
    if (this.#busy || this.#closing || this.#socket.destroyed) return;
    const parsed = parseHead(this.#buffered, MAX_HEADER_BYTES);
    if (parsed.kind === 'incomplete') {
      // The client sent its last byte without completing a request: nothing more will come.
      if (this.#clientDone) this.#finish();
      return;
    }
    if (parsed.kind === 'invalid') {
      this.#finish(responseParts({ status: parsed.status, body: `${REASONS[parsed.status] ?? 'Bad Request'}\n` }, true));
      return;
    }
    const { head } = parsed;
    this.#buffered = this.#buffered.subarray(head.length);
    if (this.#socket.isPaused() && this.#buffered.length <= MAX_HEADER_BYTES) this.#socket.resume();
    this.#served += 1;
    void this.#answer(head);
  }

  async #answer(head: RequestHead): Promise<void> {
    // A body is never read, so nothing after it could be parsed: answer, then close.
    const close = !head.keepAlive || head.hasBody || this.#served >= MAX_REQUESTS_PER_CONNECTION;
    this.#busy = true;
    const answer = await answerFor(this.#shared, head);
    if (this.#socket.destroyed) return;
    if (close || answer.retryAfter === true) {
      this.#finish(responseParts(answer, true, head.method));
      return;
    }
    this.#arm();
    // The next request is parsed only once this answer has left user space ('drain').
    if (!this.#send(responseParts(answer, false, head.method), false)) return;
    this.#busy = false;
    this.#next();
  }
}

/** Starts the endpoint on host:port; a bad address or a port in use is a ListenError. */
export async function serveMetrics(host: string, port: number, exposition: Exposition): Promise<Server> {
  const shared = new Shared(exposition);
  // The options of the proxy's own listeners (src/proxy/listen.ts): the sockets share their shape.
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => new Connection(shared, socket));
  server.maxConnections = MAX_CONNECTIONS;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // A v6 address serves v6 only, as the proxy's own listeners do (src/proxy/listen.ts).
      server.listen({ host, port, exclusive: true, ipv6Only: isIPv6(host) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    const code = errnoCode(error);
    const reason = code !== undefined ? errnoText(code) : describeError(error);
    throw new ListenError(`failed to listen on metrics address ${formatHostPort(host, port)}: ${reason}`, { cause: error });
  }
  server.unref();
  return server;
}
