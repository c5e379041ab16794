// What the kernel says the process holds: /proc/self/status, the file an operator checks too.
import { readFileSync } from 'node:fs';
import { CAPABILITY_NAMES, type CapabilityName, type HardenAddon } from './harden-addon.js';

export interface Held {
  readonly uid: number;
  readonly gid: number;
  /** The effective capabilities, by name where this module knows it, else "cap N". */
  readonly capabilities: readonly string[];
  readonly noNewPrivs: boolean;
  /** 0 none, 1 strict, 2 filter. */
  readonly seccompMode: number;
}

function field(status: string, name: string): string {
  return new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '';
}

/** The names of the bits set in a CapEff-style hex mask. */
export function capabilityNames(hex: string, addon: HardenAddon | undefined): string[] {
  const mask = BigInt(`0x${hex === '' ? '0' : hex}`);
  const byNumber = new Map<number, CapabilityName>(addon === undefined ? [] : CAPABILITY_NAMES.map((name) => [addon.capabilities[name], name]));
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) names.push(byNumber.get(bit) ?? `cap ${bit}`);
  }
  return names;
}

/** The main thread's credentials (the other threads hold at most as much: credentials.h). */
export function readHeld(addon: HardenAddon | undefined): Held {
  const status = readFileSync('/proc/self/status', 'utf8');
  const [, uid = '-1'] = field(status, 'Uid').split(/\s+/);
  const [, gid = '-1'] = field(status, 'Gid').split(/\s+/);
  return {
    uid: Number(uid), gid: Number(gid),
    capabilities: capabilityNames(field(status, 'CapEff'), addon),
    noNewPrivs: field(status, 'NoNewPrivs') === '1',
    seccompMode: Number(field(status, 'Seccomp') || '0'),
  };
}
