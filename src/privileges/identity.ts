// Whom --user names, as numbers: a name is looked up (NSS, through the addon), a number is taken
// as it is. A user given as a number without a group runs with the group of the same number.
import type { UserSpec } from '../config.js';
import { ConfigError } from '../errors.js';
import { field } from '../proxy/addon-result.js';
import { stepFailure, type HardenAddon } from './harden-addon.js';

export interface Identity {
  readonly uid: number;
  readonly gid: number;
  /** As the user wrote it, for messages. */
  readonly name: string;
}

const NUMBER = /^[0-9]+$/;
const MAX_ID = 4_294_967_294;

function asNumber(text: string, what: string): number {
  const value = Number(text);
  if (value > MAX_ID) throw new ConfigError(`invalid --user: ${what} ${text} is out of range`);
  return value;
}

/** Whether the spec keeps the start-up identity: root, or uid 0. */
export function isRoot(spec: UserSpec): boolean {
  return (spec.user === 'root' || (NUMBER.test(spec.user) && Number(spec.user) === 0)) && spec.group === undefined;
}

/** The spec as numbers; ConfigError when a name does not exist. */
export function resolveIdentity(spec: UserSpec, addon: HardenAddon): Identity {
  const written = spec.group === undefined ? spec.user : `${spec.user}:${spec.group}`;
  let uid: number;
  let gid: number;
  if (NUMBER.test(spec.user)) {
    uid = asNumber(spec.user, 'uid');
    gid = uid;
  } else {
    const found: unknown = addon.lookUpUser(spec.user);
    const uidFound = field(found, 'uid');
    const gidFound = field(found, 'gid');
    if (typeof uidFound !== 'number' || typeof gidFound !== 'number') {
      throw new ConfigError(`invalid --user ${written}: user ${spec.user}: ${stepFailure(found)?.message ?? 'not found'}`);
    }
    uid = uidFound;
    gid = gidFound;
  }
  if (spec.group !== undefined) gid = resolveGroup(spec.group, written, addon);
  return { uid, gid, name: written };
}

function resolveGroup(group: string, written: string, addon: HardenAddon): number {
  if (NUMBER.test(group)) return asNumber(group, 'gid');
  const found: unknown = addon.lookUpGroup(group);
  const gid = field(found, 'gid');
  if (typeof gid !== 'number') throw new ConfigError(`invalid --user ${written}: group ${group}: ${stepFailure(found)?.message ?? 'not found'}`);
  return gid;
}
