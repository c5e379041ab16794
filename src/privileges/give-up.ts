// Giving up privileges once every socket, the log file and the metrics endpoint are open: change
// to --user keeping only the capabilities the configuration needs (needs.ts), set no_new_privs,
// install the seccomp filter. A step the kernel or the environment refuses is reported, not fatal:
// the proxy serves anyway and says what it still holds. A --user that names nobody known is
// bad input and fails start-up.
import type { ProxyConfig } from '../config.js';
import { errnoName } from '../errors.js';
import { hardenAddon, stepFailure, type HardenAddon } from './harden-addon.js';
import { isRoot, resolveIdentity, type Identity } from './identity.js';
import { capabilitiesNeeded, type Need } from './needs.js';
import { readHeld, type Held } from './status.js';

export interface PrivilegeReport {
  /** The identity switched to; undefined when it stayed (root asked for, or not root to begin with). */
  readonly became: Identity | undefined;
  /** What could not be applied, one line each. */
  readonly notApplied: readonly string[];
  /** The capabilities asked to be kept, with why. */
  readonly needs: readonly Need[];
  /** The test probes' errno codes, when asked for. */
  readonly probes?: Readonly<Record<string, string>>;
}

/** What the process holds, read back from the kernel; after "0\n", since only the log needs it. */
export interface HeldReport {
  readonly held: Held;
  /** Why each kept capability is kept. */
  readonly kept: Readonly<Record<string, string>>;
  /** The report's lines, and the capabilities that were to be kept but were not there to keep. */
  readonly notApplied: readonly string[];
}

/** Calls a forbidden call of each kind harmlessly and names the errno each got. */
export const PROBES = ['execve', 'process_vm_readv', 'ptrace', 'unshare'] as const;

const failed = (what: string, result: unknown): string | undefined => {
  const failure = stepFailure(result);
  return failure === undefined ? undefined : `${what}: ${failure.message}`;
};

/** Whether giving up privileges will change the user: started as root, and --user is not root. */
export function changesUser(config: ProxyConfig): boolean {
  return !isRoot(config.privileges.user) && process.geteuid?.() === 0;
}

function changeIdentity(config: ProxyConfig, addon: HardenAddon, keep: number[], notApplied: string[]): Identity | undefined {
  const spec = config.privileges.user;
  if (isRoot(spec)) return undefined;
  if (!changesUser(config)) {
    // Already unprivileged: no change of user is possible, but capabilities can still shrink.
    const held = readHeld(addon);
    if (held.capabilities.length > 0) {
      const dropBounding = held.capabilities.includes('SETPCAP');
      const problem = failed('capabilities', addon.keepOnlyCaps({ keep, dropBounding }));
      if (problem !== undefined) notApplied.push(problem);
    }
    return undefined;
  }
  const identity = resolveIdentity(spec, addon);
  const problem = failed(`user ${identity.name}`, addon.becomeUser({ uid: identity.uid, gid: identity.gid, keep }));
  if (problem === undefined) return identity;
  notApplied.push(problem);
  return undefined;
}

/** Applies every step it can; throws ConfigError only for a --user that cannot be resolved. */
export function giveUpPrivileges(config: ProxyConfig, options: { probes: boolean }): PrivilegeReport {
  const loaded = hardenAddon();
  if (!loaded.ok) return { became: undefined, notApplied: [`every step: ${loaded.reason}`], needs: [] };
  const addon = loaded.addon;
  const needs = capabilitiesNeeded(config);
  const notApplied: string[] = [];
  const became = changeIdentity(config, addon, needs.map((need) => addon.capabilities[need.capability]), notApplied);
  const nnp = failed('no_new_privs', addon.setNoNewPrivs());
  if (nnp !== undefined) notApplied.push(nnp);
  if (config.privileges.seccomp) {
    const seccomp = failed('seccomp', addon.installSeccomp());
    if (seccomp !== undefined) notApplied.push(seccomp);
  }
  const report = { became, notApplied, needs };
  if (!options.probes) return report;
  return { ...report, probes: Object.fromEntries(PROBES.map((name) => [name, probeResult(addon.probe(name))])) };
}

/** Reads back what the process holds after giveUpPrivileges(). */
export function readBack(report: PrivilegeReport): HeldReport {
  const loaded = hardenAddon();
  const held = readHeld(loaded.ok ? loaded.addon : undefined);
  const kept = Object.fromEntries(report.needs.filter((need) => held.capabilities.includes(need.capability)).map((need) => [need.capability, need.why]));
  const missing = report.became === undefined ? [] : report.needs.filter((need) => !held.capabilities.includes(need.capability))
    .map((need) => `keeping ${need.capability} (${need.why}): not held at start-up`);
  return { held, kept, notApplied: [...report.notApplied, ...missing] };
}

function probeResult(value: unknown): string {
  return value === 0 ? 'allowed' : errnoName(Number(value));
}
