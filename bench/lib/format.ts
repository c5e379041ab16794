// How the report writes a figure: about 3 significant digits, with thousands separators.

/** Formats with about 3 significant digits and thousands separators; 'n/a' for a missing figure. */
export function formatNumber(value: number | undefined): string {
  if (value === undefined) return 'n/a';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
