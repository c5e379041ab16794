// The mappings file of a process serving many mappings (--config), read at start-up and re-read
// on SIGHUP: {"mappings": [SPEC | {proto, hostIp, hostPort, containerIp, containerPort}]}.
import { readFileSync } from 'node:fs';
import type { Mapping } from '../config.js';
import { ConfigError, describeError } from '../errors.js';
import { assertDistinct, parsePublishSpec } from './publish-spec.js';

/** An object entry of the config file, in docker-proxy's own words. */
function fromObject(entry: object, index: number): Mapping[] {
  const field = (name: string): unknown => Reflect.get(entry, name);
  const proto = field('proto') ?? 'tcp';
  const text = (name: string, fallback?: string): string => {
    const value = field(name) ?? fallback;
    if (typeof value !== 'string' && typeof value !== 'number') throw new ConfigError(`mappings[${index}].${name} is missing`);
    return String(value);
  };
  const hostIp = text('hostIp', '0.0.0.0');
  const bracket = (ip: string): string => (ip.includes(':') ? `[${ip}]` : ip);
  return parsePublishSpec(`${bracket(hostIp)}:${text('hostPort')}:${bracket(text('containerIp'))}:${text('containerPort')}/${String(proto)}`);
}

/**
 * Parses the config file: {"mappings": [SPEC | {proto, hostIp, hostPort, containerIp, containerPort}]}.
 * Ports may be ranges ("8000-8099") in either form.
 */
export function parseConfigFile(text: string): Mapping[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`not valid JSON: ${describeError(error)}`);
  }
  const list: unknown = typeof document === 'object' && document !== null ? Reflect.get(document, 'mappings') : undefined;
  if (!Array.isArray(list)) throw new ConfigError('expected {"mappings": [...]}');
  const mappings = list.flatMap((entry: unknown, index): Mapping[] => {
    try {
      if (typeof entry === 'string') return parsePublishSpec(entry);
      if (typeof entry === 'object' && entry !== null) return fromObject(entry, index);
    } catch (error) {
      throw new ConfigError(`mappings[${index}] ${JSON.stringify(entry)}: ${describeError(error)}`);
    }
    throw new ConfigError(`mappings[${index}] must be a SPEC string or an object`);
  });
  assertDistinct(mappings);
  return mappings;
}

/** Reads and parses the config file; every failure is a ConfigError naming the file. */
export function readConfigFile(path: string): Mapping[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${describeError(error)}`);
  }
  try {
    return parseConfigFile(text);
  } catch (error) {
    throw new ConfigError(`config file ${path}: ${describeError(error)}`);
  }
}
