// CPU seconds a proxy (and what it forked) spent during one piece of load; for a proxy with a
// metrics endpoint, also the scrapes taken during the load and the counters around it.
import type { RunningProxy } from './candidates.ts';
import { type MetricsWindow, type ScrapeLog, type Series, scrapeWhenIdle, startScraper } from './metrics-scrape.ts';
import { settleTree, treeCpuSeconds } from './procfs.ts';
import { scrape } from '../../test/helpers/exposition.ts';

export interface UnderLoad<T> {
  readonly result: T;
  /** Undefined for direct. */
  readonly cpuSeconds: number | undefined;
  /** Only for a proxy with a metrics endpoint (ours-metrics). */
  readonly metrics: MetricsWindow | undefined;
}

/** An open CPU window on one proxy: the load runs between open and close. */
interface CpuWindow {
  close(): Promise<Omit<UnderLoad<never>, 'result'>>;
}

/**
 * Opens a CPU window on `proxy` (nothing to measure for direct). When the proxy serves /metrics,
 * it is scraped once before the window and then every second inside it, so that the CPU and the
 * throughput include the cost of the scrapes; the scrapes before and after (for the counter
 * checks) are outside the window. A failed scrape fails the measurement.
 */
async function openCpuWindow(proxy: RunningProxy): Promise<CpuWindow> {
  const pid = proxy.pid;
  if (pid === undefined) return { close: () => Promise.resolve({ cpuSeconds: undefined, metrics: undefined }) };
  const metricsPort = proxy.metricsPort;
  const before: Series | undefined = metricsPort === undefined ? undefined : await scrape(metricsPort);
  await settleTree(pid);
  const cpuBefore = treeCpuSeconds(pid);
  const scraper = metricsPort === undefined ? undefined : startScraper(metricsPort);
  return {
    async close() {
      const log: ScrapeLog | undefined = await scraper?.stop();
      // socat's per-connection children must exit and be reaped, or their time is missed.
      await settleTree(pid);
      const cpuSeconds = treeCpuSeconds(pid) - cpuBefore;
      if (metricsPort === undefined || before === undefined || log === undefined) return { cpuSeconds, metrics: undefined };
      if (log.failures.length > 0) throw new Error(`${log.failures.length} of ${log.scrapes + log.failures.length} scrapes of /metrics failed: ${log.failures[0] ?? ''}`);
      return { cpuSeconds, metrics: { before, after: await scrapeWhenIdle(metricsPort), log } };
    },
  };
}

/**
 * Runs `load` inside a CPU window on `proxy` (see openCpuWindow). `started` is awaited between
 * the window's opening and the load, so that concurrent measurements can start their loads
 * together (rendezvous.ts); it is awaited even when the window fails to open.
 */
export async function withProxyCpu<T>(proxy: RunningProxy, load: () => Promise<T>,
  started: () => Promise<void> = () => Promise.resolve()): Promise<UnderLoad<T>> {
  let window: CpuWindow;
  try {
    window = await openCpuWindow(proxy);
  } finally {
    await started();
  }
  let result: T;
  try {
    result = await load();
  } catch (error) {
    await window.close().catch(() => undefined);
    throw error;
  }
  return { result, ...(await window.close()) };
}
