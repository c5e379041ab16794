// CPU seconds a proxy (and what it forked) spent during one piece of load; for a proxy with a
// metrics endpoint, also the scrapes taken during the load and the counters around it.
import type { RunningProxy } from './candidates.ts';
import { type MetricsWindow, type ScrapeLog, scrape, scrapeWhenIdle, startScraper } from './metrics-scrape.ts';
import { settleTree, treeCpuSeconds } from './procfs.ts';

export interface UnderLoad<T> {
  readonly result: T;
  /** Undefined for direct. */
  readonly cpuSeconds: number | undefined;
  /** Only for a proxy with a metrics endpoint (ours-metrics). */
  readonly metrics: MetricsWindow | undefined;
}

/**
 * Runs `load` and returns its result with the proxy tree's CPU seconds (undefined for direct).
 * When the proxy serves /metrics, it is scraped every second during the load, so that the CPU
 * and the throughput include the cost of the scrapes; the scrapes before and after (for the
 * counter checks) are outside the CPU window. A failed scrape fails the measurement.
 */
export async function withProxyCpu<T>(proxy: RunningProxy, load: () => Promise<T>): Promise<UnderLoad<T>> {
  const pid = proxy.pid;
  if (pid === undefined) return { result: await load(), cpuSeconds: undefined, metrics: undefined };
  const metricsPort = proxy.metricsPort;
  const before = metricsPort === undefined ? undefined : await scrape(metricsPort);
  await settleTree(pid);
  const cpuBefore = treeCpuSeconds(pid);
  const scraper = metricsPort === undefined ? undefined : startScraper(metricsPort);
  let result: T;
  let log: ScrapeLog | undefined;
  try {
    result = await load();
  } finally {
    log = await scraper?.stop();
  }
  // socat's per-connection children must exit and be reaped, or their time is missed.
  await settleTree(pid);
  const cpuSeconds = treeCpuSeconds(pid) - cpuBefore;
  if (metricsPort === undefined || before === undefined || log === undefined) return { result, cpuSeconds, metrics: undefined };
  if (log.failures.length > 0) throw new Error(`${log.failures.length} of ${log.scrapes + log.failures.length} scrapes of /metrics failed: ${log.failures[0] ?? ''}`);
  return { result, cpuSeconds, metrics: { before, after: await scrapeWhenIdle(metricsPort), log } };
}
