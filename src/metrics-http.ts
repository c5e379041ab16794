// The metrics endpoint: GET /metrics (exposition format) and GET /healthz, nothing else. A plain
// TCP server with its own small request parser (http-head.ts says why not node:http). Requests are
// small and short-lived by construction, so a slow or hostile client cannot hold it or the proxy:
// the head is bounded in size and in time, a body is never read, connections are capped.
import { createServer, type Server, type Socket } from 'node:net';
import { formatHostPort } from './config.js';
import { describeError, errnoText, errnoCode, ListenError } from './errors.js';
import { parseHead, type RequestHead } from './http-head.js';

/** What the endpoint serves; metrics.ts provides it. */
export interface Exposition {
  readonly contentType: string;
  render(): Promise<string>;
  /** False once the proxy stopped serving: /healthz then answers 503. */
  healthy(): boolean;
}

const MAX_HEADER_BYTES = 8 * 1024;
/** From a connection's start or its previous answer, the time the next request head has to arrive. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Enough for every scraper; a flood beyond it is refused rather than allowed to use up descriptors. */
const MAX_CONNECTIONS = 256;
const MAX_REQUESTS_PER_CONNECTION = 100;

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 503: 'Service Unavailable', 505: 'HTTP Version Not Supported',
};
const TEXT = 'text/plain; charset=utf-8';

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly contentType?: string;
  readonly allow?: boolean;
}

/** The whole response: status line, headers and body (none for HEAD, RFC 9110 §9.3.2), in one write. */
function responseText(answer: Answer, close: boolean, method = 'GET'): string {
  const lines = [
    `HTTP/1.1 ${answer.status} ${REASONS[answer.status] ?? ''}`,
    // An origin server with a clock sends Date (RFC 9110 §6.6.1).
    `Date: ${new Date().toUTCString()}`,
    `Content-Type: ${answer.contentType ?? TEXT}`,
    `Content-Length: ${Buffer.byteLength(answer.body)}`,
    'Cache-Control: no-store',
  ];
  if (answer.allow === true) lines.push('Allow: GET');
  lines.push(close ? 'Connection: close' : 'Connection: keep-alive');
  return `${lines.join('\r\n')}\r\n\r\n${method === 'HEAD' ? '' : answer.body}`;
}

async function answerFor(exposition: Exposition, head: RequestHead): Promise<Answer> {
  const path = head.target.split('?', 1)[0];
  if (path !== '/metrics' && path !== '/healthz') return { status: 404, body: 'not found: try /metrics or /healthz\n' };
  // Read-only by construction: nothing but GET is answered.
  if (head.method !== 'GET') return { status: 405, body: 'method not allowed\n', allow: true };
  if (path === '/healthz') {
    const ok = exposition.healthy();
    return ok ? { status: 200, body: 'ok\n' } : { status: 503, body: 'stopping\n' };
  }
  try {
    return { status: 200, body: await exposition.render(), contentType: exposition.contentType };
  } catch (error) {
    return { status: 500, body: `cannot render metrics: ${describeError(error)}\n` };
  }
}

/** One connection: requests one after another (pipelining allowed), each head within the timeout. */
class Connection {
  readonly #exposition: Exposition;
  readonly #socket: Socket;
  #buffered: Buffer = Buffer.alloc(0);
  #busy = false;
  #clientDone = false;
  #closing = false;
  #served = 0;
  #deadline: NodeJS.Timeout | undefined;

  constructor(exposition: Exposition, socket: Socket) {
    this.#exposition = exposition;
    this.#socket = socket;
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clearTimeout(this.#deadline));
    socket.on('end', () => {
      this.#clientDone = true;
      this.#next();
    });
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

  /**
   * After the last answer: half-close, and read (and drop) what the client still sends until it
   * closes too, so that unread bytes do not turn the close into a reset that could destroy the
   * answer in flight; the deadline bounds how long that may take.
   */
  #finish(text?: string): void {
    this.#closing = true;
    this.#arm();
    if (text === undefined) this.#socket.end();
    else this.#socket.end(text);
    this.#socket.resume();
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
      this.#finish(responseText({ status: parsed.status, body: `${REASONS[parsed.status] ?? 'Bad Request'}\n` }, true));
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
    const answer = await answerFor(this.#exposition, head);
    this.#busy = false;
    if (this.#socket.destroyed) return;
    if (close) {
      this.#finish(responseText(answer, true, head.method));
      return;
    }
    this.#socket.write(responseText(answer, false, head.method));
    this.#arm();
    this.#next();
  }
}

/** Starts the endpoint on host:port; a bad address or a port in use is a ListenError. */
export async function serveMetrics(host: string, port: number, exposition: Exposition): Promise<Server> {
  // The options of the proxy's own listeners (listen.ts): the sockets share their shape.
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => new Connection(exposition, socket));
  server.maxConnections = MAX_CONNECTIONS;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
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
