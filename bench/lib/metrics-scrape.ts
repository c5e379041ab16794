// Reads our proxy's GET /metrics: one scrape parsed into series, and a scraper that fetches it
// every second while a load runs, so that the cost of rendering the metrics (prom-client's
// collect()) lands in the measured CPU and throughput of the `ours-metrics` candidate.
import http from 'node:http';

/** Series of one scrape: `name{label="value",...}` (labels as exposed) → value. */
export type Series = ReadonlyMap<string, number>;

const SCRAPE_TIMEOUT_MS = 5000;
const LINE = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/;
const LABEL = /([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g;

/** Parses the Prometheus text exposition format (comments and blank lines skipped). */
export function parseExposition(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = LINE.exec(line);
    if (match === null) continue;
    series.set(`${match[1] ?? ''}${match[2] ?? ''}`, Number(match[3]));
  }
  return series;
}

function labelsOf(key: string): Map<string, string> {
  const open = key.indexOf('{');
  const labels = new Map<string, string>();
  if (open < 0) return labels;
  for (const match of key.slice(open).matchAll(LABEL)) labels.set(match[1] ?? '', match[2] ?? '');
  return labels;
}

/** Sum of every series named `name` whose labels include all of `where`. */
export function total(series: Series, name: string, where: Readonly<Record<string, string>> = {}): number {
  let sum = 0;
  for (const [key, value] of series) {
    const bare = key.split('{', 1)[0];
    if (bare !== name) continue;
    const labels = labelsOf(key);
    if (Object.entries(where).every(([label, wanted]) => labels.get(label) === wanted)) sum += value;
  }
  return sum;
}

/** GET http://127.0.0.1:port/metrics; throws unless it answers 200 within 5 s. */
export function scrape(port: number): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false, timeout: SCRAPE_TIMEOUT_MS }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => {
        if (response.statusCode !== 200) reject(new Error(`GET /metrics answered ${String(response.statusCode)}: ${body.slice(0, 200)}`));
        else resolve(parseExposition(body));
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET /metrics: no answer in ${SCRAPE_TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });
}

/** What a scraper saw while it ran. */
export interface ScrapeLog {
  readonly scrapes: number;
  readonly failures: readonly string[];
  /** The slowest scrape, request to last byte. */
  readonly slowestMs: number;
}

export interface Scraper {
  /** Stops scheduling, waits for a scrape in flight, and says how it went. */
  stop(): Promise<ScrapeLog>;
}

/**
 * Scrapes every `intervalMs`, the first after half an interval: a 5 s load gets 5 scrapes, a 1 s
 * load one, in the middle of the load rather than at its edges.
 */
export function startScraper(port: number, intervalMs = 1000): Scraper {
  let scrapes = 0;
  let slowestMs = 0;
  const failures: string[] = [];
  let inFlight: Promise<void> = Promise.resolve();
  const once = (): void => {
    const started = performance.now();
    inFlight = scrape(port).then((series) => {
      scrapes += 1;
      slowestMs = Math.max(slowestMs, performance.now() - started);
      if (total(series, 'docker_proxy_build_info') !== 1) {
        failures.push('a scrape had no docker_proxy_build_info');
      }
    }, (error: unknown) => {
      failures.push(error instanceof Error ? error.message : String(error));
    });
  };
  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    once();
    interval = setInterval(once, intervalMs);
  }, intervalMs / 2);
  return {
    async stop(): Promise<ScrapeLog> {
      clearTimeout(first);
      clearInterval(interval);
      await inFlight;
      return { scrapes, failures, slowestMs };
    },
  };
}

/** Counters before and after one load, and the scrapes taken during it. */
export interface MetricsWindow {
  readonly before: Series;
  readonly after: Series;
  readonly log: ScrapeLog;
}

/** How much `name` (summed over the series matching `where`) grew over the window. */
export function grew(window: MetricsWindow, name: string, where: Readonly<Record<string, string>> = {}): number {
  return total(window.after, name, where) - total(window.before, name, where);
}

/**
 * Scrapes until no TCP connection is open any more (connections_active 0), for at most `ms`:
 * after a load the last connections may still be closing, and their bytes must be in the count.
 */
export async function scrapeWhenIdle(port: number, ms = 3000): Promise<Map<string, number>> {
  const deadline = Date.now() + ms;
  let series = await scrape(port);
  while (total(series, 'docker_proxy_connections_active') > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    series = await scrape(port);
  }
  return series;
}

/** A counter check: undefined when `actual` is within [low, high], else what is wrong. */
export function outside(what: string, actual: number, low: number, high: number): string | undefined {
  if (actual >= low && actual <= high) return undefined;
  const range = low === high ? `${low}` : `${Math.round(low)}..${Math.round(high)}`;
  return `metrics: ${what} was ${actual}, expected ${range}`;
}
