// The hardening addon (native/harden/): its JS API as the rest of src/privileges/ sees it.
import { hasMethods, loadAddon, type Loaded } from '../proxy/addon.js';
import { field } from '../proxy/addon-result.js';

/** The capabilities the proxy may keep, by the names of linux/capability.h without CAP_. */
export type CapabilityName = 'NET_BIND_SERVICE' | 'NET_ADMIN' | 'SYS_RESOURCE' | 'SETPCAP';
export const CAPABILITY_NAMES: readonly CapabilityName[] = ['NET_BIND_SERVICE', 'NET_ADMIN', 'SYS_RESOURCE', 'SETPCAP'];

/** A refused step, as the addon returns it (never thrown). */
export interface StepFailure {
  readonly errno: number;
  readonly syscall: string;
  readonly message: string;
}

export interface HardenAddon {
  lookUpUser(name: string): unknown;
  lookUpGroup(name: string): unknown;
  becomeUser(options: { uid: number; gid: number; keep: number[] }): unknown;
  keepOnlyCaps(options: { keep: number[]; dropBounding: boolean }): unknown;
  setNoNewPrivs(): unknown;
  installSeccomp(): unknown;
  /** errno of a call the filter refuses (0: it went through); for tests. */
  probe(name: string): unknown;
  readonly capabilities: Readonly<Record<CapabilityName, number>>;
}

function isHardenAddon(value: unknown): value is HardenAddon {
  if (!hasMethods(value, 'lookUpUser', 'lookUpGroup', 'becomeUser', 'keepOnlyCaps', 'setNoNewPrivs', 'installSeccomp', 'probe')) return false;
  const caps = field(value, 'capabilities');
  return CAPABILITY_NAMES.every((name) => typeof field(caps, name) === 'number');
}

let loaded: Loaded<HardenAddon> | undefined;

/** The addon, loaded once. */
export function hardenAddon(): Loaded<HardenAddon> {
  loaded ??= loadAddon({ file: 'harden', name: 'hardening addon', linuxOnly: 'capabilities and seccomp are Linux-only', isAddon: isHardenAddon });
  return loaded;
}

/** A step's result: undefined for success (null), the failure otherwise. */
export function stepFailure(result: unknown): StepFailure | undefined {
  if (result === null) return undefined;
  if (typeof result !== 'object') return { errno: 0, syscall: '?', message: `unexpected result ${String(result)}` };
  const errno = field(result, 'errno');
  return { errno: typeof errno === 'number' ? errno : 0, syscall: String(field(result, 'syscall')), message: String(field(result, 'message')) };
}
