// Scratch paths the proxy must still reach after start-up, when it has given up root for the
// user nobody (its default --user): a metrics directory it writes, a mappings file it re-reads.
// mkdtemp makes directories only their owner may enter; hand them to that user.
import { chownSync } from 'node:fs';

/** uid and gid of nobody, the proxy's default --user on Debian. */
export const PROXY_USER_ID = 65534;

/** Gives `path` to the proxy's user when the tests run as root (otherwise the proxy keeps ours). */
export function shareWithProxy(path: string): string {
  if (process.getuid?.() === 0) chownSync(path, PROXY_USER_ID, PROXY_USER_ID);
  return path;
}
