// CPU seconds a proxy (and what it forked) spent during one piece of load.
import type { RunningProxy } from './candidates.ts';
import { settleTree, treeCpuSeconds } from './procfs.ts';

/** Runs `load` and returns its result with the proxy tree's CPU seconds (undefined for direct). */
export async function withProxyCpu<T>(proxy: RunningProxy, load: () => Promise<T>): Promise<{ result: T; cpuSeconds: number | undefined }> {
  const pid = proxy.pid;
  if (pid === undefined) return { result: await load(), cpuSeconds: undefined };
  await settleTree(pid);
  const before = treeCpuSeconds(pid);
  const result = await load();
  // socat's per-connection children must exit and be reaped, or their time is missed.
  await settleTree(pid);
  return { result, cpuSeconds: treeCpuSeconds(pid) - before };
}
