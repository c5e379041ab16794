// What the proxy still has to reach by path after it has given up root: the metrics directory
// (a new file every interval, renamed into place) and the mappings file (re-read on SIGHUP).
// Packages often make such paths root-only; a proxy that went silent there would look healthy
// and report nothing. So start-up fails instead, with the path and the fix.
import { accessSync, constants } from 'node:fs';
import type { ProxyConfig } from '../config.js';
import { ConfigError, describeError } from '../errors.js';
import type { PrivilegeReport } from './give-up.js';

function who(report: PrivilegeReport): string {
  const uid = String(process.getuid?.() ?? '?');
  return report.became === undefined ? `uid ${uid}` : `user ${report.became.name} (uid ${uid})`;
}

function refused(path: string, mode: number): string | undefined {
  try {
    accessSync(path, mode);
    return undefined;
  } catch (error) {
    return describeError(error);
  }
}

/** Throws ConfigError naming the first path the proxy can no longer use. */
export function assertReachable(config: ProxyConfig, report: PrivilegeReport): void {
  const fix = report.became === undefined ? '' : `, or start with --user root`;
  if (config.metricsDir !== undefined) {
    const problem = refused(config.metricsDir, constants.W_OK | constants.X_OK);
    if (problem !== undefined) {
      throw new ConfigError(`metrics directory ${config.metricsDir} is not writable by ${who(report)}, which the proxy runs as after start-up (${problem}): make it writable for that user${fix}`);
    }
  }
  if (config.configFile !== undefined) {
    const problem = refused(config.configFile, constants.R_OK);
    if (problem !== undefined) {
      throw new ConfigError(`mappings file ${config.configFile} is not readable by ${who(report)}, which the proxy runs as after start-up and which re-reads it on SIGHUP (${problem}): make it readable for that user${fix}`);
    }
  }
}
