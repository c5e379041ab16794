// HTTP requests for the suites and the bench: the proxy's metrics endpoint, an engine's container.
import { type IncomingHttpHeaders, request } from 'node:http';
import { LOOPBACK } from './net.ts';
import { STEP_MS, withTimeout } from './timeout.ts';

/** An HTTP answer, its body both as text (UTF-8) and as the bytes that came. */
export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly bytes: Buffer;
}

/**
 * One request on a connection of its own (agent: false), with a deadline: the endpoint's tests count
 * connections, and busybox httpd in the engine suite closes after one answer anyway.
 */
export function httpRequest(port: number, path: string, method = 'GET', ms = STEP_MS, host: string = LOOPBACK.v4): Promise<Answer> {
  return withTimeout(new Promise<Answer>((resolve, reject) => {
    const req = request({ host, port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes });
      });
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  }), ms, `${method} ${path} on ${host}:${port}`);
}
