// Reading what a native addon returns. Its results are I/O data to the compiler, so every value is
// checked at run time, and read by name: a counter the addon adds shifts nothing on this side.

/** A count: a finite number, not negative; anything else reads as 0. */
export function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0;
}

/** The property `name` of an object result; undefined for anything else. */
export function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? Reflect.get(value, name) : undefined;
}

/** The count under `name` of an object result (0 if absent or not a count). */
export function countField(value: unknown, name: string): number {
  return count(field(value, name));
}

/** The [key, count] pairs of an object of counts (counts by errno, say); none for anything else. */
export function countEntries(value: unknown): Array<[string, number]> {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).map(([key, each]: [string, unknown]) => [key, count(each)]);
}
