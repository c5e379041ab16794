// Lets several concurrent measurements start their loads at the same moment.

/**
 * A meeting point for `parties` callers: each one's arrive() resolves once all have arrived. A
 * caller that fails before its load must still arrive (in a finally), or the others would wait.
 */
export function rendezvous(parties: number): () => Promise<void> {
  let waiting = parties;
  let release: () => void = () => undefined;
  const all = new Promise<void>((resolve) => { release = resolve; });
  return () => {
    waiting -= 1;
    if (waiting <= 0) release();
    return all;
  };
}
