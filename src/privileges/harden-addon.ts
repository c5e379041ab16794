// The hardening addon (native/harden/): its JS API as the rest of src/privileges/ sees it.
import { hasMethods, loadAddon, type Loaded } from '../proxy/addon.js';

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
  const caps: unknown = Reflect.get(value, 'capabilities');
  return typeof caps === 'object' && caps !== null && CAPABILITY_NAMES.every((name) => typeof Reflect.get(caps, name) === 'number');
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
  if (typeof result !== 'object' || result === undefined) return { errno: 0, syscall: '?', message: `unexpected result ${String(result)}` };
  const errno: unknown = Reflect.get(result, 'errno');
  const syscall: unknown = Reflect.get(result, 'syscall');
  const message: unknown = Reflect.get(result, 'message');
  return { errno: typeof errno === 'number' ? errno : 0, syscall: String(syscall), message: String(message) };
}
