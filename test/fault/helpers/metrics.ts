// Scraping the proxy's metrics endpoint (DOCKER_PROXY_METRICS_ADDR) and reading series from the
// Prometheus text format, without trusting its shape: every line is parsed and checked.
import { request } from 'node:http';
import { withTimeout } from '../../helpers/timeout.ts';
import { V4 } from './settings.ts';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** An HTTP answer on a fresh connection. */
export interface Answer { readonly status: number; readonly headers: Readonly<Record<string, string | string[] | undefined>>; readonly body: string }

/** One request on a fresh connection, with a deadline. */
export function httpRequest(port: number, path: string, method = 'GET', ms = 5_000, host = V4): Promise<Answer> {
  return withTimeout(new Promise<Answer>((resolve, reject) => {
    const req = request({ host, port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (text: string) => {
        body += text;
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  }), ms, `${method} ${path} on ${host}:${port}`);
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the exposition text format into samples (comments and blank lines skipped). */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (match === null) throw new Error(`not an exposition line: ${JSON.stringify(line)}`);
    const [, name = '', labelText = '', valueText = ''] = match;
    const labels: Record<string, string> = {};
    for (const [, key = '', value = ''] of labelText.matchAll(LABEL)) labels[key] = value;
    const value = valueText === '+Inf' ? Number.POSITIVE_INFINITY : Number(valueText);
    samples.push({ name, labels, value });
  }
  return samples;
}

/** GET /metrics, parsed. */
export async function scrape(port: number, ms = 5_000): Promise<Sample[]> {
  const answer = await httpRequest(port, '/metrics', 'GET', ms);
  if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}`);
  return parseExposition(answer.body);
}

/** The value of the series `name` whose labels include `labels`; 0 when there is none (a counter not yet touched). */
export function valueOf(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (matching.length > 1) throw new Error(`${matching.length} series ${name} match ${JSON.stringify(labels)}`);
  return matching[0]?.value ?? 0;
}
