/**
 * Threshold values are written the way people say them ("200ms", "80%", "5s", "500MB") and compared in
 * canonical units: seconds, ratios 0..1, bytes, plain counts.
 */
export type Unit = 'seconds' | 'ratio' | 'bytes' | 'count'

const SUFFIX_FACTORS: Record<string, {unit: Unit; factor: number}> = {
  ms: {unit: 'seconds', factor: 0.001},
  s: {unit: 'seconds', factor: 1},
  m: {unit: 'seconds', factor: 60},
  min: {unit: 'seconds', factor: 60},
  h: {unit: 'seconds', factor: 3600},
  d: {unit: 'seconds', factor: 86_400},
  '%': {unit: 'ratio', factor: 0.01},
  b: {unit: 'bytes', factor: 1},
  kb: {unit: 'bytes', factor: 1024},
  mb: {unit: 'bytes', factor: 1024 ** 2},
  gb: {unit: 'bytes', factor: 1024 ** 3},
  tb: {unit: 'bytes', factor: 1024 ** 4},
}

/** Parses "200ms", "80%", "1.5GB", "42" into a canonical number; null when it is not a quantity. */
export function parseQuantity(text: string): {value: number; unit?: Unit} | null {
  const trimmed = text.trim().toLowerCase()
  const match = /^(-?\d+(?:\.\d+)?)\s*([a-z%]*)$/.exec(trimmed)
  if (!match) return null
  const value = Number(match[1])
  const suffix = match[2]
  if (!suffix) return {value}
  const known = SUFFIX_FACTORS[suffix]
  if (!known) return null
  return {value: value * known.factor, unit: known.unit}
}

/** Parses a duration such as "10s", "2m" or "0" into seconds (bare numbers are seconds). */
export function parseDurationSeconds(text: string): number | null {
  const q = parseQuantity(String(text))
  if (!q || q.value < 0) return null
  if (q.unit && q.unit !== 'seconds') return null
  return q.value
}

export function formatValue(value: number | null | undefined, unit: Unit | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a'
  switch (unit) {
    case 'seconds': {
      if (Math.abs(value) < 1) return `${round(value * 1000)} ms`
      if (Math.abs(value) < 120) return `${round(value)} s`
      if (Math.abs(value) < 7200) return `${round(value / 60)} min`
      if (Math.abs(value) < 172_800) return `${round(value / 3600)} h`
      return `${round(value / 86_400)} d`
    }
    case 'ratio':
      return `${round(value * 100)}%`
    case 'bytes':
      return formatBytes(value)
    default:
      return `${round(value)}`
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let v = bytes
  let i = 0
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${round(v)} ${units[i]}`
}

function round(v: number): string {
  if (Number.isInteger(v)) return String(v)
  const abs = Math.abs(v)
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, '')
}

/** How many characters of a statement's text a report's message shows (the finding's evidence keeps the text). */
export const SHORT_TEXT_CHARS = 80

/**
 * A text on one line and at most `max` characters (whole code points), ending in "…" when cut: for naming a
 * statement in a message. Shortening a safe text can only lose characters, never reveal one.
 */
export function shortText(text: string, max = SHORT_TEXT_CHARS): string {
  const line = text.replace(/\s+/g, ' ').trim()
  const chars = Array.from(line)
  return chars.length > max ? `${chars.slice(0, max - 1).join('').trimEnd()}…` : line
}
