// The error catalogue. Each class names what the caller must do; messages are lower-case
// "what failed: detail", as docker-proxy's are, and travel to dockerd through fd 3.
import { getSystemErrorMap, getSystemErrorName } from 'node:util';
import { formatHostPort, type Endpoint, type Proto } from './config.js';

/** ProxyError is any failure this program reports on purpose (never a stack trace). */
export class ProxyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProxyError';
  }
}

/** ConfigError: a bad option value (from the environment) or an unusable combination. */
export class ConfigError extends ProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** UnsupportedProtocolError: -proto names something this proxy cannot forward. */
export class UnsupportedProtocolError extends ProxyError {
  constructor(proto: string) {
    const detail = proto === 'sctp'
      ? ' (Node.js has no kernel SCTP sockets; publish SCTP ports with the Go docker-proxy or userland-proxy=false)'
      : '';
    super(`unsupported protocol ${proto}${detail}`);
    this.name = 'UnsupportedProtocolError';
  }
}

/** ListenError: the frontend socket could not be bound or adopted. */
export class ListenError extends ProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

/** errnoCode returns the `code` of a Node system error ('EADDRINUSE'), if it has one. */
export function errnoCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code: unknown = Reflect.get(error, 'code');
  return typeof code === 'string' ? code : undefined;
}

/** The code name of a positive errno as the addons return it ('EPERM'); errno_N for one Node does not know. */
export function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return `errno_${errno}`;
  }
}

let errnoTexts: Map<string, string> | undefined;

/** The C library's text for an errno code, lower-case as Go prints it ('address already in use'). */
export function errnoText(code: string): string {
  if (errnoTexts === undefined) {
    errnoTexts = new Map([...getSystemErrorMap().values()].map(([name, text]) => [name, text]));
  }
  return errnoTexts.get(code) ?? code;
}

/** describeError gives a one-line reason for any thrown value, preferring the errno text. */
export function describeError(error: unknown): string {
  const code = errnoCode(error);
  if (code !== undefined && /^E[A-Z0-9]+$/.test(code)) return errnoText(code);
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Builds docker-proxy's bind error text, e.g. "failed to listen on 0.0.0.0:80: listen tcp4
 * 0.0.0.0:80: bind: address already in use", adding advice where the kernel's word is cryptic.
 */
export function listenError(proto: Proto, endpoint: Endpoint, cause: unknown): ListenError {
  const where = formatHostPort(endpoint.host, endpoint.port);
  const code = errnoCode(cause);
  let message = `failed to listen on ${where}: listen ${proto}${endpoint.family} ${where}: bind: ${describeError(cause)}`;
  if (code === 'EACCES' && endpoint.port < 1024) {
    message += ' (ports below 1024 need root or CAP_NET_BIND_SERVICE, or a lower net.ipv4.ip_unprivileged_port_start)';
  } else if (code === 'EADDRNOTAVAIL') {
    message += ` (${endpoint.host} is not an address of this host)`;
  }
  return new ListenError(message, { cause });
}
