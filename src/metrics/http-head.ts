// Reads the head of an HTTP/1.x request: the request line and the header fields, nothing else.
// The metrics endpoint answers two GET paths and never reads a body, so this is all it needs.
// It exists because node:http's server, once it has handled a single request, slows the proxy's
// connection handling by 2-4 % for the rest of the process's life (its request, response and parser
// objects go through the same EventEmitter and net.Socket code as the proxy's sockets and make
// V8's inline caches there megamorphic; measured in docs/design/metrics-endpoint.md). A plain socket and this
// parser leave the proxy's own code paths as they are.

/** The request as the endpoint needs it. */
export interface RequestHead {
  readonly method: string;
  /** The request target as sent (origin form for any real client). */
  readonly target: string;
  /** Whether the connection may carry another request after this one's answer. */
  readonly keepAlive: boolean;
  /** A Content-Length or Transfer-Encoding was sent: there is a body, which is never read. */
  readonly hasBody: boolean;
  /** Bytes of the buffer the head took, up to and including its empty line. */
  readonly length: number;
}

export type HeadResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'request'; readonly head: RequestHead }
  | { readonly kind: 'invalid'; readonly status: 400 | 431 | 505 };

/** RFC 9110 token characters (methods, header names). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Visible ASCII: a request target has no spaces or control characters. */
const TARGET = /^[\x21-\x7e]+$/;
const VERSION = /^HTTP\/(\d)\.(\d)$/;
/** A field value: visible characters, spaces and tabs (no control characters, no NUL). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

const INCOMPLETE: HeadResult = { kind: 'incomplete' };
const invalid = (status: 400 | 431 | 505): HeadResult => ({ kind: 'invalid', status });

/** Where the head ends (after its empty line), or -1; a bare LF ends a line too (RFC 9112 §2.2). */
function headEnd(text: string, from: number): number {
  const crlf = text.indexOf('\n\r\n', from);
  const lf = text.indexOf('\n\n', from);
  if (crlf < 0) return lf < 0 ? -1 : lf + 2;
  return lf < 0 || crlf < lf ? crlf + 3 : lf + 2;
}

/**
 * Parses the request head at the start of `buffer`; `limit` bounds its size (leading empty lines
 * included). Past the limit without an end, the answer is 431, as node:http gives.
 */
export function parseHead(buffer: Buffer, limit: number): HeadResult {
  const text = buffer.toString('latin1', 0, Math.min(buffer.length, limit));
  // A client may send an empty line before the request line (RFC 9112 §2.2).
  const start = /^(?:\r?\n)*/.exec(text)?.[0].length ?? 0;
  const end = headEnd(text, start);
  if (end < 0) return buffer.length >= limit ? invalid(431) : INCOMPLETE;
  const lines = text.slice(start, end).split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  const [method = '', target = '', version = '', ...extra] = (lines[0] ?? '').split(' ');
  if (!TOKEN.test(method) || !TARGET.test(target) || extra.length > 0) return invalid(400);
  const numbers = VERSION.exec(version);
  if (numbers === null) return invalid(400);
  if (numbers[1] !== '1') return invalid(505);
  const fields = parseFields(lines.slice(1, -2));
  if (fields === undefined) return invalid(400);
  const connection = (fields.get('connection') ?? '').toLowerCase().split(',').map((each) => each.trim());
  const keepAlive = numbers[2] === '0' ? connection.includes('keep-alive') : !connection.includes('close');
  const hasBody = fields.has('content-length') || fields.has('transfer-encoding');
  return { kind: 'request', head: { method, target, keepAlive, hasBody, length: end } };
}

/** Header lines into lower-cased names (repeats joined with ", "); undefined if one is malformed. */
function parseFields(lines: readonly string[]): Map<string, string> | undefined {
  const fields = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    // No colon, whitespace before it, or a folded line (RFC 9112 §5.2: reject): all malformed.
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) return undefined;
    const key = name.toLowerCase();
    const previous = fields.get(key);
    fields.set(key, previous === undefined ? value : `${previous}, ${value}`);
  }
  return fields;
}
