// Loading a native addon (build/Release/*.node): checked against the exports the caller expects,
// and, when it cannot be used, a one-line reason (the caller's JS path then serves instead).
// process.dlopen rather than require: loading node:module for createRequire pulls in the ESM
// loader and source maps, a measurable share of a dockerd-run proxy's start-up (about 1 ms of 5;
// bench/startup-memory.ts), for nothing a .node file needs.
import { readdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export type Loaded<A> = { ok: true; addon: A } | { ok: false; reason: string };

/** Whether `value` is an object with a function under each of `names`. */
export function hasMethods<K extends string>(value: unknown, ...names: K[]): value is Record<K, (...args: never[]) => unknown> {
  if (typeof value !== 'object' || value === null) return false;
  return names.every((name) => typeof Reflect.get(value, name) === 'function');
}

/**
 * Where the addons are, relative to this module: the bundle (dist/docker-proxy.cjs) is one level
 * below the package root, this file under tsx three; scripts/build.mjs defines the bundle's value.
 */
declare const __DOCKER_PROXY_ADDON_DIR__: string | undefined;
const ADDON_DIR = typeof __DOCKER_PROXY_ADDON_DIR__ === 'string' ? __DOCKER_PROXY_ADDON_DIR__ : '../../build/Release/';

export interface AddonSpec<A> {
  /** The file's name in build/Release, without `.node` (binding.gyp's target name). */
  readonly file: string;
  /** Names the addon in the reasons: "<name> not loadable: …", "… is not the <name>". */
  readonly name: string;
  /** Why it is of no use off Linux: "<linuxOnly> (platform …)". */
  readonly linuxOnly: string;
  readonly isAddon: (value: unknown) => value is A;
}

/**
 * Whether any user could still load the addons: every .node file readable by others, and the
 * directory and all above it searchable by others. When not (a checkout under mktemp -d or /root),
 * a proxy that gives up root must load them before it does. Mode bits only: an ACL that grants
 * more reads as closed, which costs an early load, never a failed one.
 */
export function addonsOpenToEveryone(): boolean {
  const dir = fileURLToPath(new URL(ADDON_DIR, import.meta.url));
  try {
    const files = readdirSync(dir).filter((name) => name.endsWith('.node'));
    if (!files.every((name) => (statSync(`${dir}/${name}`).mode & 0o004) !== 0)) return false;
    for (let at = dir; ; at = dirname(at)) {
      if ((statSync(at).mode & 0o001) === 0) return false;
      if (dirname(at) === at) return true;
    }
  } catch {
    return false;
  }
}

/** Each file's exports, so a second load (another test file, say) reuses the first. */
const opened = new Map<string, unknown>();

/** What the addon file exports; throws what dlopen throws. */
function open(path: string): unknown {
  if (!opened.has(path)) {
    const module: { exports: unknown } = { exports: {} };
    process.dlopen(module, path);
    opened.set(path, module.exports);
  }
  return opened.get(path);
}

/** Loads the addon; callers keep the result, so each addon is loaded once per process. */
export function loadAddon<A>(spec: AddonSpec<A>): Loaded<A> {
  if (process.platform !== 'linux') return { ok: false, reason: `${spec.linuxOnly} (platform ${process.platform})` };
  const path = fileURLToPath(new URL(`${ADDON_DIR}${spec.file}.node`, import.meta.url));
  try {
    const exports = open(path);
    return spec.isAddon(exports) ? { ok: true, addon: exports } : { ok: false, reason: `${path} is not the ${spec.name}` };
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ok: false, reason: `${spec.name} not loadable: ${detail}` };
  }
}
