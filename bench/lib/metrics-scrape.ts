// Reads our proxy's GET /metrics: one scrape parsed into series, and a scraper that fetches it
// every second while a load runs, so that the cost of rendering the metrics (prom-client's
// collect()) lands in the measured CPU and throughput of the `ours-metrics` candidate.
import { type Sample, scrape, sumOf } from '../../test/helpers/exposition.ts';

/** The samples of one scrape. */
export type Series = readonly Sample[];

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
      if (sumOf(series, 'docker_proxy_build_info') !== 1) {
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
  return sumOf(window.after, name, where) - sumOf(window.before, name, where);
}

/**
 * Scrapes until no TCP connection is open any more (connections_active 0), for at most `ms`:
 * after a load the last connections may still be closing, and their bytes must be in the count.
 */
export async function scrapeWhenIdle(port: number, ms = 3000): Promise<Series> {
  const deadline = Date.now() + ms;
  let series = await scrape(port);
  while (sumOf(series, 'docker_proxy_connections_active') > 0 && Date.now() < deadline) {
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
