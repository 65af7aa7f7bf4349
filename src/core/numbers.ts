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

/**
 * A number for a sentence: 1,461 or 2.49 or 0.0123 (thousands grouped from 100, two decimals from 1, four under).
 * Without Intl: toLocaleString costs tens of microseconds a call, too much for every statement an advisor weighs.
 */
export function formatNumber(x: number): string {
  return x >= 100 ? String(Math.round(x)).replace(/\B(?=(\d{3})+$)/g, ',') : String(round(x, x >= 1 ? 2 : 4))
}
