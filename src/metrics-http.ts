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

/** Serves one connection: requests one after another (pipelining allowed), each head within the timeout. */
function serveConnection(exposition: Exposition, socket: Socket): void {
  let buffered: Buffer = Buffer.alloc(0);
  let busy = false;
  let clientDone = false;
  let closing = false;
  let served = 0;
  // An absolute deadline, not an idle timer: a client trickling a byte at a time is still cut off.
  // Unref'd: an open scrape never keeps a stopping proxy alive.
  let deadline: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(deadline);
    deadline = setTimeout(() => socket.destroy(), REQUEST_TIMEOUT_MS).unref();
  };
  // After the last answer: half-close, and read (and drop) what the client still sends until it
  // closes too, so that unread bytes do not turn the close into a reset that could destroy the
  // answer in flight; the deadline bounds how long that may take.
  const finish = (text?: string): void => {
    closing = true;
    arm();
    if (text === undefined) socket.end();
    else socket.end(text);
    socket.resume();
  };
  const next = (): void => {
    if (busy || closing || socket.destroyed) return;
    const parsed = parseHead(buffered, MAX_HEADER_BYTES);
    if (parsed.kind === 'incomplete') {
      // The client sent its last byte without completing a request: nothing more will come.
      if (clientDone) finish();
      return;
    }
    if (parsed.kind === 'invalid') {
      finish(responseText({ status: parsed.status, body: `${REASONS[parsed.status] ?? 'Bad Request'}\n` }, true));
      return;
    }
    const { head } = parsed;
    buffered = buffered.subarray(head.length);
    if (socket.isPaused() && buffered.length <= MAX_HEADER_BYTES) socket.resume();
    served += 1;
    // A body is never read, so nothing after it could be parsed: answer, then close.
    const close = !head.keepAlive || head.hasBody || served >= MAX_REQUESTS_PER_CONNECTION;
    busy = true;
    void answerFor(exposition, head).then((answer) => {
      busy = false;
      if (socket.destroyed) return;
      if (close) {
        finish(responseText(answer, true, head.method));
        return;
      }
      socket.write(responseText(answer, false, head.method));
      arm();
      next();
    });
  };
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clearTimeout(deadline));
  socket.on('end', () => {
    clientDone = true;
    next();
  });
  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    // Pipelined requests wait while one is answered; past a head's worth of them, stop reading
    // (the bytes stay in the kernel) until the queue is worked down.
    if (buffered.length > MAX_HEADER_BYTES) socket.pause();
    next();
  });
  arm();
  socket.resume();
}

/** Starts the endpoint on host:port; a bad address or a port in use is a ListenError. */
export async function serveMetrics(host: string, port: number, exposition: Exposition): Promise<Server> {
  // The options of the proxy's own listeners (listen.ts): the sockets share their shape.
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) => serveConnection(exposition, socket));
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
