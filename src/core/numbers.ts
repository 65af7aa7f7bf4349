/**
 * `value` rounded to `digits` decimals. Three by default: evidence carries rates, milliseconds and ratios that
 * people read, and more digits than that are noise in a report.
 */
export function round(value: number, digits = 3): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/** A ratio as a percentage to one decimal ("12.3%", "70%"); 'n/a' when it was not measured. */
export function percent(ratio: number | null): string {
  return ratio === null ? 'n/a' : `${round(ratio * 100, 1)}%`
}
