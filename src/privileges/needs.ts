// Which capabilities a configuration still needs once started, and why. Everything else goes.
import type { ProxyConfig } from '../config.js';
import type { CapabilityName } from './harden-addon.js';

export interface Need {
  readonly capability: CapabilityName;
  readonly why: string;
}

/**
 * NET_BIND_SERVICE where a SIGHUP may open new listeners (a mappings file) that could be below
 * 1024. SYS_RESOURCE where TCP may be spliced: pipes count against a per-user budget
 * (fs.pipe-user-pages-soft, 64 MiB by default) that every proxy running as the same user shares,
 * and past it new pipes get 8 KiB and cannot grow, which makes bulk flows several times dearer;
 * the seccomp filter keeps the capability from raising resource limits.
 */
export function capabilitiesNeeded(config: ProxyConfig): Need[] {
  const needs: Need[] = [];
  if (config.configFile !== undefined) needs.push({ capability: 'NET_BIND_SERVICE', why: 'SIGHUP may add listeners below port 1024' });
  const tcp = config.configFile !== undefined || config.mappings.some((mapping) => mapping.proto === 'tcp');
  if (tcp && config.dataPath.path !== 'js') needs.push({ capability: 'SYS_RESOURCE', why: 'splice pipes beyond the per-user pipe budget' });
  return needs;
}
