/**
 * Turns concrete keys into patterns: user:123:cart -> user:*:cart. A segment becomes * when it looks like an
 * identifier rather than a name: digits, UUIDs, hex hashes, long mixed letter-digit tokens, e-mail addresses,
 * ISO dates and timestamps. Names (cart, wait, session, v2) stay, so BullMQ's bull:<queue>:wait stays distinct
 * from its job hashes bull:<queue>:<id> (-> bull:<queue>:*).
 *
 * Keys are split on ':' (the Redis convention) and on '/', '|' and '.' as well, since URL- and path-shaped keys
 * (cache/api/v1/users/42) and dotted ones (_kombu.binding.celery) are common.
 */
const SEPARATORS = /([:/|])/

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i
const HEX = /^(0x)?[0-9a-f]{8,}$/i
const NUMERIC = /^[-+]?\d+([.,_-]\d+)*$/
const SHORT_PREFIXED_NUMBER = /^[a-z]{1,3}[-_]?\d{3,}$/i
const DATE_LIKE = /^\d{4}-\d{2}-\d{2}([tT ]\d{2}(:\d{2})*)?/

export function isVariableSegment(segment: string): boolean {
  if (segment === '' || segment === '*') return false
  if (NUMERIC.test(segment) || UUID.test(segment) || DATE_LIKE.test(segment) || SHORT_PREFIXED_NUMBER.test(segment)) return true
  if (HEX.test(segment) && /\d/.test(segment)) return true
  if (segment.includes('@')) return true
  const hasDigit = /\d/.test(segment)
  const hasLetter = /[a-z]/i.test(segment)
  // Random tokens (session ids, base64, nanoid): long, or mid-length with letters and digits mixed.
  if (segment.length >= 20 && !/^[a-z_-]+$/i.test(segment)) return true
  if (segment.length >= 8 && hasDigit && hasLetter) return true
  if (segment.length >= 32) return true
  return false
}

export function keyPattern(key: string): string {
  // ':' '/' '|' always separate; '.' only inside a segment that is not itself an identifier as a whole, so
  // e-mail addresses, IPs and decimal numbers become one '*' while _kombu.binding.celery keeps its names.
  return key.split(SEPARATORS).map((part, i) => {
    if (i % 2 === 1) return part
    if (!part.includes('.') ? isVariableSegment(part) : part.includes('@') || NUMERIC.test(part)) return '*'
    return part.split('.').map((sub) => (isVariableSegment(sub) ? '*' : sub)).join('.')
  }).join('')
}

/** Escapes glob metacharacters of a literal key part for SCAN MATCH / redis-cli --pattern. */
export function escapeGlob(text: string): string {
  return text.replace(/([\\*?[\]])/g, '\\$1')
}

/** A SCAN MATCH glob for a pattern: literal parts escaped, each * left as a wildcard. */
export function patternToGlob(pattern: string): string {
  return pattern.split('*').map(escapeGlob).join('*')
}

/** Whether a key belongs to a pattern: each "*" stands for (part of) one ':'-separated segment. */
export function patternMatches(pattern: string, key: string): boolean {
  const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^:]*')
  return new RegExp(`^${source}$`).test(key)
}
