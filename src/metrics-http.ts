// The metrics endpoint: GET /metrics (exposition format) and GET /healthz, nothing else. Requests
// are small and short-lived by construction, so a slow or hostile client cannot hold it or the proxy.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { formatHostPort } from './config.js';
import { describeError, errnoText, errnoCode, ListenError } from './errors.js';

/** What the endpoint serves; metrics.ts provides it. */
export interface Exposition {
  readonly contentType: string;
  render(): Promise<string>;
  /** False once the proxy stopped serving: /healthz then answers 503. */
  healthy(): boolean;
}

const MAX_HEADER_BYTES = 8 * 1024;
const REQUEST_TIMEOUT_MS = 5_000;
/** Enough for every scraper; a flood beyond it is refused rather than allowed to use up descriptors. */
const MAX_CONNECTIONS = 256;
/** How often Node enforces the header and request timeouts (its default of 30 s lets a trickle live 35 s). */
const TIMEOUT_CHECK_MS = 1_000;

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

function handle(exposition: Exposition, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path !== '/metrics' && path !== '/healthz') {
    reply(res, 404, 'not found: try /metrics or /healthz\n');
    return;
  }
  // Read-only by construction: nothing but GET is answered.
  if (req.method !== 'GET') {
    reply(res, 405, 'method not allowed\n', { Allow: 'GET' });
    return;
  }
  // Any request body is ignored; stop reading it and close after the answer.
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) {
    res.setHeader('Connection', 'close');
  }
  if (path === '/healthz') {
    const ok = exposition.healthy();
    reply(res, ok ? 200 : 503, ok ? 'ok\n' : 'stopping\n');
    return;
  }
  exposition.render().then(
    (text) => reply(res, 200, text, { 'Content-Type': exposition.contentType }),
    (error: unknown) => reply(res, 500, `cannot render metrics: ${describeError(error)}\n`),
  );
}

/** The status line for a request Node's parser rejected. */
function clientErrorStatus(error: Error): string {
  const code = errnoCode(error);
  if (code === 'HPE_HEADER_OVERFLOW') return '431 Request Header Fields Too Large';
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return '408 Request Timeout';
  return '400 Bad Request';
}

/** Starts the endpoint on host:port; a bad address or a port in use is a ListenError. */
export async function serveMetrics(host: string, port: number, exposition: Exposition): Promise<Server> {
  const server = createServer({
    maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: TIMEOUT_CHECK_MS,
  }, (req, res) => handle(exposition, req, res));
  server.maxConnections = MAX_CONNECTIONS;
  server.maxRequestsPerSocket = 100;
  // Idle keep-alive sockets must not pile up either.
  server.setTimeout(REQUEST_TIMEOUT_MS, (socket) => socket.destroy());
  server.on('clientError', (error, socket) => {
    if (socket.writable) socket.end(`HTTP/1.1 ${clientErrorStatus(error)}\r\nConnection: close\r\n\r\n`);
    socket.destroy();
  });
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
