// The endpoint's answers: what each request gets, and the state the connections of one endpoint
// share (the rendering and the budget of answer bytes queued in user space).
import { describeError } from '../errors.js';
import type { RequestHead } from './http-head.js';
import { SharedRender } from './shared-render.js';

/** What the endpoint serves; registry.ts provides it. */
export interface Exposition {
  readonly contentType: string;
  render(): Promise<string>;
  /** False once the proxy stopped serving: /healthz then answers 503. */
  healthy(): boolean;
}

export const REASONS: Readonly<Record<number, string>> = {
  200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 503: 'Service Unavailable', 505: 'HTTP Version Not Supported',
};
const TEXT = 'text/plain; charset=utf-8';

/**
 * Answer bytes that may wait in user space across all connections (one answer per connection at
 * most): 56 full answers at 1000 mappings, far more than the scrapers of one host need at once.
 */
const MAX_QUEUED_BYTES = 32 * 1024 * 1024;

export interface Answer {
  readonly status: number;
  readonly body: string | Buffer;
  readonly contentType?: string;
  readonly allow?: boolean;
  readonly retryAfter?: boolean;
}

/** The whole response: status line and headers, then the body (none for HEAD, RFC 9110 §9.3.2). */
export function responseParts(answer: Answer, close: boolean, method = 'GET'): Buffer[] {
  const body = typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body;
  const lines = [
    `HTTP/1.1 ${answer.status} ${REASONS[answer.status] ?? ''}`,
    // An origin server with a clock sends Date (RFC 9110 §6.6.1).
    `Date: ${new Date().toUTCString()}`,
    `Content-Type: ${answer.contentType ?? TEXT}`,
    `Content-Length: ${body.length}`,
    'Cache-Control: no-store',
  ];
  if (answer.allow === true) lines.push('Allow: GET');
  if (answer.retryAfter === true) lines.push('Retry-After: 1');
  lines.push(close ? 'Connection: close' : 'Connection: keep-alive');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
  // The body is the shared rendering, written as it is: no copy of it per request.
  return method === 'HEAD' ? [head] : [head, body];
}

/** What the connections of one endpoint share: the rendering and the budget of queued bytes. */
export class Shared {
  readonly exposition: Exposition;
  readonly rendering: SharedRender;
  queuedBytes = 0;

  constructor(exposition: Exposition) {
    this.exposition = exposition;
    this.rendering = new SharedRender(() => exposition.render());
  }
}

export async function answerFor(shared: Shared, head: RequestHead): Promise<Answer> {
  const { exposition } = shared;
  const path = head.target.split('?', 1)[0];
  if (path !== '/metrics' && path !== '/healthz') return { status: 404, body: 'not found: try /metrics or /healthz\n' };
  // Read-only by construction: nothing but GET is answered.
  if (head.method !== 'GET') return { status: 405, body: 'method not allowed\n', allow: true };
  if (path === '/healthz') {
    const ok = exposition.healthy();
    return ok ? { status: 200, body: 'ok\n' } : { status: 503, body: 'stopping\n' };
  }
  if (shared.queuedBytes > MAX_QUEUED_BYTES) return { status: 503, body: 'busy: too many unread answers\n', retryAfter: true };
  try {
    return { status: 200, body: await shared.rendering.get(), contentType: exposition.contentType };
  } catch (error) {
    return { status: 500, body: `cannot render metrics: ${describeError(error)}\n` };
  }
}

