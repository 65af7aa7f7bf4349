/**
 * Secrets must never reach any output. Two layers: URLs are masked structurally (the password field and secret
 * query parameters are replaced, whatever the password is), and every password, token or key we were given is
 * registered so that final output can be scrubbed of it even when a driver echoes it in an error message.
 *
 * Registered values are masked only where they stand as whole tokens. A secret is inside another identifier
 * when a letter, digit or `_` touches it, or when a `-` or `.` touches it that itself touches a letter, digit or
 * `_` on its other side: queue, host, key and table names are built with `-` and `.` (`guest-signups`,
 * `guest.example.com`), so those must stay intact, but a `.` ending a sentence or a `-` before a space joins
 * nothing and must not shield a password. Where output and secret disagree we mask: a corrupted word is a bug
 * report, a leaked password is an incident.
 */

export const REDACTED = '<password removed>'
export const MASK = '***'

/** Shorter secrets would scrub ordinary words from reports; URLs still lose them structurally. */
const MIN_PROSE_LENGTH = 3

const SECRET_PARAMS = ['password', 'sslpassword', 'token', 'api_key', 'apikey', 'access_token', 'secret']
// The REDACTED alternative comes first so that already-masked output is left as it is (idempotence).
const SECRET_PARAM = new RegExp(`([?&;](?:${SECRET_PARAMS.join('|')})=)(${escapeRegExp(REDACTED)}|[^&#\\s"'<>\`]*)`, 'gi')

// Anything shaped like `scheme:` + any slashes + `user:`. What follows is the password, up to the last `@`.
// Malformed URLs (postgres:/u:pw@h, postgres:u:pw@h, postgres:///u:pw@h) fit this, and are what `new URL`
// parses as opaque paths without a password, so this is the layer that must catch them.
const CREDENTIAL_START = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*:\/*[^\s:/@"'<>`]*:/g
// Quotes, angle brackets and backticks end a URL in prose and in JSON; without this, compact JSON (one long
// run without spaces) would be masked from one URL to some `@` in a later field.
const URL_END_CHAR = /^[\s"'<>`]$/
// A second URL in the same run (comma-separated host lists) has its own `@`: a URL starts where a run of
// scheme characters ([A-Za-z][A-Za-z0-9+.-]*, not preceded by one) is followed by `://`.

const IDENT_CHAR = /^[\p{L}\p{N}_]$/u

/**
 * The secrets of one audit (or one command). Registering is cheap and never shared across instances, so two
 * audits in one process (tests, the library API) cannot scrub each other's output or grow a global list.
 */
export class SecretRegistry {
  private readonly own = new Set<string>()

  /** A child sees its parent's secrets; what it registers stays its own. */
  constructor(private readonly parent?: SecretRegistry) {}

  /** A registry for one part of the work (one target, one command) that also scrubs everything this one knows. */
  child(): SecretRegistry {
    return new SecretRegistry(this)
  }

  /** Adds every secret another registry knows (its parents' too), e.g. after audits that ran in parallel. */
  merge(other: SecretRegistry): this {
    for (const secret of other.secrets()) this.own.add(secret)
    return this
  }

  /**
   * Registers a secret with its percent-decoded, percent-encoded and JSON-escaped forms, any of which may be echoed,
   * and the forms a markup format writes it in: HTML/XML-escaped, and JSON with <, >, & and U+2028/9 as \u escapes
   * (JSON embedded in a page). The output is scrubbed after rendering, so each escaped form must be known.
   */
  register(secret: string | undefined | null): void {
    if (!secret) return
    const json = JSON.stringify(secret).slice(1, -1)
    for (const form of new Set([secret, safeDecode(secret), safeEncode(secret), json, ...markupForms(secret), scriptJson(json)])) {
      if (form.length >= MIN_PROSE_LENGTH) this.own.add(form)
    }
  }

  /** Whether output would be scrubbed of this exact string. */
  has(secret: string): boolean {
    return this.own.has(secret) || (this.parent?.has(secret) ?? false)
  }

  /**
   * Returns a URL with its password and secret query parameters removed, and registers them. Malformed URLs
   * (which `new URL` rejects or reads as opaque paths) still lose anything shaped like `user:password@`.
   */
  redactUrl(raw: string): string {
    const register = (secret: string) => this.register(secret)
    const url = tryParse(raw)
    if (url?.password) {
      this.register(url.password)
      this.register(safeDecode(url.password))
    }
    // The URL as typed, with everything up to the last `@` masked, whenever it has a user:password shape:
    // `new URL` may split the password elsewhere (a `\` ends the authority of http URLs) and print the rest.
    const typed = maskStructure(raw, register)
    if (typed.credentials > 0) return typed.text
    if (url?.password) {
      // Built by hand: URL.toString() drops the '@' when a password-only URL (redis://:pw@host) loses its password.
      return maskStructure(`${url.protocol}//${url.username}:${REDACTED}@${url.host}${url.pathname}${url.search}${url.hash}`, register).text
    }
    return maskStructure(url ? url.toString() : raw, register).text
  }

  /**
   * Removes secrets from free text (error messages, rendered reports): URL passwords and secret query parameters
   * structurally, then every registered secret where it stands as a whole token. A URL's user name is kept even
   * when it equals a registered password.
   */
  scrub(text: string): string {
    const {text: masked, keep} = maskStructure(text)
    // Longest first, so that a secret containing a shorter one is masked whole rather than in pieces.
    const secrets = [...new Set(this.secrets())].sort((a, b) => b.length - a.length)
    if (secrets.length === 0) return masked
    const kept = new Overlaps(masked, keep)
    const scan = new Tokens(masked)
    // One flag per character, and where each hit ends by where it starts (the hits in text order without a
    // sort); allocated on the first hit, as most text has none. Hits are taken longest secret first, so a hit
    // that overlaps an earlier one covers one of its own ends: checking both ends is the whole overlap test.
    let taken: Uint8Array | undefined
    let hitEnds: Int32Array | undefined
    for (const secret of secrets) {
      const identStart = isIdentCode(secret.charCodeAt(0))
      const identEnd = isIdentCode(secret.charCodeAt(secret.length - 1))
      // Each rejection says how far the next occurrence must be, so a secret occurring at every position of a long
      // run (`aaaa` in `aaaa…`) costs one pass over the run, not one search per position.
      let next = 0
      for (let at = masked.indexOf(secret); at !== -1; at = masked.indexOf(secret, next)) {
        const end = at + secret.length
        next = at + 1
        if (taken?.[at]) {
          // Inside a longer secret's mask: so is every occurrence starting before that mask ends.
          while (taken[next]) next++
          continue
        }
        if (taken?.[end - 1]) continue
        if (identStart && scan.joinsLeft(at)) {
          next = scan.identifierRunEnd(at)
          continue
        }
        if ((identEnd && scan.joinsRight(end)) || kept.any(at, end)) continue
        taken ??= new Uint8Array(masked.length)
        hitEnds ??= new Int32Array(masked.length)
        taken.fill(1, at, end)
        hitEnds[at] = end
        next = end
      }
    }
    if (!taken || !hitEnds) return masked
    let out = ''
    let last = 0
    for (let start = taken.indexOf(1); start !== -1; start = taken.indexOf(1, last)) {
      out += masked.slice(last, start) + MASK
      last = hitEnds[start]
    }
    return out + masked.slice(last)
  }

  private *secrets(): Generator<string> {
    yield* this.own
    if (this.parent) yield* this.parent.secrets()
  }
}

/**
 * Masks secret query parameters and the password of everything shaped like `scheme:[//]user:password@`.
 * Returns the spans of the user names it saw next to a password, which token scrubbing must not touch.
 */
function maskStructure(text: string, found?: (secret: string) => void): {text: string; keep: number[]; credentials: number} {
  const params = text.replace(SECRET_PARAM, (whole, key: string, value: string) => {
    if (value === '' || value === REDACTED) return whole
    found?.(value)
    found?.(safeDecode(value))
    return key + REDACTED
  })

  // Start and end of each user name, flat: a scrubbed report can hold a hundred thousand URLs.
  const keep: number[] = []
  let credentials = 0
  const ends = new PasswordEnds(params)
  // Built by concatenation: V8 joins the pieces as a rope and flattens it once, several times faster here than
  // Array.join over a hundred thousand pieces.
  let out = ''
  // How much longer the output is than the input so far: masks replace passwords of any length.
  let shift = 0
  let copied = 0
  CREDENTIAL_START.lastIndex = 0
  // test(), not exec(): no match array per credential-shaped run; where the match began is recomputed when needed.
  while (CREDENTIAL_START.test(params)) {
    const passwordStart = CREDENTIAL_START.lastIndex
    const userStart = userStartBefore(params, passwordStart - 1)
    // Already masked: left as it is, so that scrubbing scrubbed output changes nothing.
    const masked = params.startsWith(REDACTED_AT, passwordStart)
    const passwordEnd = masked ? passwordStart + REDACTED.length : ends.at(passwordStart)
    if (passwordEnd < 0) {
      // Not a credential after all (postgres://host:5432/db); a real one may start inside what was matched.
      CREDENTIAL_START.lastIndex = schemeStartBefore(params, userStart) + 1
      continue
    }
    keep.push(userStart + shift, passwordStart - 1 + shift)
    if (!masked) {
      credentials++
      if (found) {
        const password = params.slice(passwordStart, passwordEnd)
        found(password)
        found(safeDecode(password))
      }
      out += params.slice(copied, passwordStart) + REDACTED
      shift += REDACTED.length - (passwordEnd - passwordStart)
      copied = passwordEnd
    }
    CREDENTIAL_START.lastIndex = passwordEnd
  }
  if (copied === 0) return {text: params, keep, credentials}
  return {text: out + params.slice(copied), keep, credentials}
}

/** Where the user name ending at `colon` starts: after the scheme's `:` and slashes (CREDENTIAL_START's group). */
function userStartBefore(text: string, colon: number): number {
  let i = colon
  while (i > 0 && !USER_STOP.has(text.charCodeAt(i - 1))) i--
  return i
}

/**
 * Where the match of CREDENTIAL_START whose user name starts at `userStart` began: back over the slashes, the
 * scheme's `:` and the scheme. The look-behind admits only the first character of a run of scheme characters.
 */
function schemeStartBefore(text: string, userStart: number): number {
  let i = userStart
  while (i > 0 && text.charCodeAt(i - 1) === SLASH) i--
  i-- // the scheme's `:`
  while (i > 0 && isSchemeCode(text.charCodeAt(i - 1))) i--
  return i
}

const SLASH = 0x2f
const isSchemeCode = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2e || c === 0x2d

const USER_STOP = new Set(Array.from('\t\n\v\f\r :/@"\'<>`', (c) => c.charCodeAt(0)))

const REDACTED_AT = `${REDACTED}@`

/**
 * Finds where a password ends: the last `@` of the URL's run (up to a separator), or of the part before a
 * following URL when that part has one. The `@`s, URL starts and separators of the whole text are listed once,
 * on the first credential-shaped match, and each lookup is a binary search: text with thousands of partial URLs in
 * one run (`x://a:x://a:…`) stays linear, where scanning the run per match was quadratic (14 s for 1 MiB).
 */
class PasswordEnds {
  private ats: number[] | undefined
  private urls: number[] = []
  private separators: number[] = []

  constructor(private readonly text: string) {}

  /** The index of the `@` that ends a password starting at `from`, or -1 if no `@` follows within the URL. */
  at(from: number): number {
    // A password starting with `//` is the rest of a URL seen from a prefix like `see:postgres://...`.
    if (this.text.startsWith('//', from)) return -1
    const ats = this.ats ?? this.index()
    const runEnd = this.separators[firstAtOrAfter(this.separators, from)] ?? this.text.length
    const lastInRun = firstAtOrAfter(ats, runEnd) - 1
    if (lastInRun < 0 || ats[lastInRun] < from) return -1
    // The last `@`: people paste unencoded passwords like p@ss, and `new URL` also splits at the last one.
    // Before a following URL if there is one there; else anywhere in the run, since a password may contain `x://`.
    const next = this.urls[firstAtOrAfter(this.urls, from)] ?? Infinity
    const beforeNext = firstAtOrAfter(ats, Math.min(next, runEnd)) - 1
    return beforeNext >= 0 && ats[beforeNext] >= from ? ats[beforeNext] : ats[lastInRun]
  }

  private index(): number[] {
    const ats: number[] = []
    for (let i = this.text.indexOf('@'); i !== -1; i = this.text.indexOf('@', i + 1)) ats.push(i)
    // No URL crosses a separator and a password starts right after a `:`, so URL starts found over the whole
    // text are the ones a scan of each run would find: each `://` preceded by a run of scheme
    // characters that begins with a letter (the look-behind admits only a run's first character).
    const urls: number[] = []
    for (let c = this.text.indexOf('://'); c !== -1; c = this.text.indexOf('://', c + 3)) {
      let start = c
      while (start > 0 && isSchemeCode(this.text.charCodeAt(start - 1))) start--
      if (start < c && isLetterCode(this.text.charCodeAt(start))) urls.push(start)
    }
    this.urls = urls
    const separators: number[] = []
    for (let i = 0; i < this.text.length; i++) if (isUrlEndCode(this.text.charCodeAt(i))) separators.push(i)
    this.separators = separators
    this.ats = ats
    return ats
  }
}

/** The first index of a sorted list whose value is >= value (the list's length if none). */
function firstAtOrAfter(sorted: readonly number[], value: number): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (sorted[mid] < value) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * Whether a span touches what token scrubbing must leave alone: the user names next to a password, and every
 * mask (REDACTED), whether this scrub or an earlier one put it there. Listed on the first question only.
 */
class Overlaps {
  private starts: number[] | undefined
  private ends: number[] = []

  constructor(private readonly text: string, private readonly users: readonly number[]) {}

  any(start: number, end: number): boolean {
    if (!this.starts) this.list()
    const starts = this.starts!
    // Disjoint (a user name cannot contain the `<` of REDACTED), so sorted by start they are sorted by end too,
    // and only the last one starting before `end` can reach into the span.
    const i = firstAtOrAfter(starts, end) - 1
    return i >= 0 && this.ends[i] > start
  }

  private list(): void {
    const masks: number[] = []
    for (let at = this.text.indexOf(REDACTED); at !== -1; at = this.text.indexOf(REDACTED, at + REDACTED.length)) masks.push(at)
    // Two sorted lists merged; empty user names (redis://:pw@host) cover nothing.
    const starts: number[] = []
    let u = 0
    let m = 0
    while (u < this.users.length || m < masks.length) {
      if (m >= masks.length || (u < this.users.length && this.users[u] < masks[m])) {
        if (this.users[u + 1] > this.users[u]) {
          starts.push(this.users[u])
          this.ends.push(this.users[u + 1])
        }
        u += 2
      } else {
        starts.push(masks[m])
        this.ends.push(masks[m] + REDACTED.length)
        m++
      }
    }
    this.starts = starts
  }
}

/**
 * Whether a secret found in the text is the tail or the head of an identifier. Answers in constant time per
 * occurrence: a registered secret may occur at every position of a long run (`aaaa` in `aaaa…`), where a regular
 * expression over the 32 characters before each occurrence cost 60 ms per MiB.
 */
class Tokens {
  private ansiEnds: Uint8Array | undefined

  constructor(private readonly text: string) {}

  joinsLeft(at: number): boolean {
    if (at === 0) return false
    const before = this.text.charCodeAt(at - 1)
    if (isIdentCode(before)) return !this.escapeEndsBefore(at)
    return isJoiner(before) && isIdentCode(this.text.charCodeAt(at - 2))
  }

  /**
   * The first position after `at` that an identifier does not run through: where a secret could start as a whole
   * token. Every occurrence between `at` and it joins the identifier on its left.
   */
  identifierRunEnd(at: number): number {
    let p = at + 1
    while (p < this.text.length && isIdentCode(this.text.charCodeAt(p - 1)) && !this.escapeEndsBefore(p)) p++
    return p
  }

  joinsRight(at: number): boolean {
    const after = this.text.charCodeAt(at)
    if (Number.isNaN(after)) return false
    return isIdentCode(after) || (isJoiner(after) && isIdentCode(this.text.charCodeAt(at + 1)))
  }

  /**
   * Escapes whose last character is a letter or digit, but which stand for a separator: terminal colours
   * (`\x1b[31m`), JSON string escapes (`\n`, `\u0022`) and percent-escapes (`%20`). Without this, a secret right
   * after a newline in a JSON error message would look like the tail of an identifier.
   */
  private escapeEndsBefore(at: number): boolean {
    // No closures here: this runs once per occurrence, and a transpiler's name-keeping wrapper per call costs more
    // than the check itself.
    const t = this.text
    if (at >= 2 && t.charCodeAt(at - 2) === BACKSLASH && 'nrtbf'.includes(t[at - 1])) return true
    if (at >= 3 && t.charCodeAt(at - 3) === PERCENT && isHex(t.charCodeAt(at - 2)) && isHex(t.charCodeAt(at - 1))) return true
    if (at >= 6 && t.charCodeAt(at - 6) === BACKSLASH && t[at - 5] === 'u' && isHex(t.charCodeAt(at - 4)) && isHex(t.charCodeAt(at - 3))
      && isHex(t.charCodeAt(at - 2)) && isHex(t.charCodeAt(at - 1))) return true
    this.ansiEnds ??= ansiEscapeEnds(t)
    return this.ansiEnds[at - 1] === 1
  }
}

const BACKSLASH = 0x5c
const PERCENT = 0x25

/**
 * Marks the last character of each terminal escape (`ESC [` parameters, intermediates, a final byte) that is at
 * most 32 characters long. The three character classes are disjoint, so each ESC ends at most one escape and one
 * pass over the text finds them all.
 */
function ansiEscapeEnds(text: string): Uint8Array {
  const ends = new Uint8Array(text.length)
  for (let e = text.indexOf('\x1b'); e !== -1; e = text.indexOf('\x1b', e + 1)) {
    if (text.charCodeAt(e + 1) !== 0x5b) continue
    let i = e + 2
    while (i < text.length && isAnsiParameter(text.charCodeAt(i))) i++
    while (i < text.length && isAnsiIntermediate(text.charCodeAt(i))) i++
    if (i < text.length && isAnsiFinal(text.charCodeAt(i)) && i - e < 32) ends[i] = 1
  }
  return ends
}

const isAnsiParameter = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x3b || c === 0x3f
const isAnsiIntermediate = (c: number) => c >= 0x20 && c <= 0x2f
const isAnsiFinal = (c: number) => c >= 0x40 && c <= 0x7e
const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
const isJoiner = (c: number) => c === 0x2d || c === 0x2e

// Per UTF-16 code unit, as the text is indexed: 0 not yet known, 1 an identifier character, 2 not. A property of
// characters only, so one table serves every registry.
const IDENT_CODES = new Uint8Array(0x10000)
for (let c = 0; c < 0x80; c++) IDENT_CODES[c] = IDENT_CHAR.test(String.fromCharCode(c)) ? 1 : 2

const URL_END_CODES = new Uint8Array(0x10000)

function isUrlEndCode(code: number): boolean {
  let known = URL_END_CODES[code]
  if (known === 0) known = URL_END_CODES[code] = URL_END_CHAR.test(String.fromCharCode(code)) ? 1 : 2
  return known === 1
}

const isLetterCode = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)

function isIdentCode(code: number): boolean {
  if (Number.isNaN(code)) return false
  let known = IDENT_CODES[code]
  if (known === 0) known = IDENT_CODES[code] = IDENT_CHAR.test(String.fromCharCode(code)) ? 1 : 2
  return known === 1
}

function tryParse(raw: string): URL | undefined {
  try {
    return new URL(raw)
  } catch {
    return undefined
  }
}

const MARKUP: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;'}

/** The secret as HTML and XML text write it: `'` as &#39; or &apos;, line separators as character references. */
function markupForms(secret: string): string[] {
  const escaped = secret.replace(/[&<>"]/g, (c) => MARKUP[c]).replace(/\u2028/g, '&#x2028;').replace(/\u2029/g, '&#x2029;')
  return [escaped.replace(/'/g, '&#39;'), escaped.replace(/'/g, '&apos;')]
}

/** JSON string content as a page embeds it in a script element: <, >, & and U+2028/9 as \u escapes. */
function scriptJson(json: string): string {
  return json.replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

// A lone surrogate (a truncated emoji in a password) makes encodeURIComponent throw; no URL can carry it encoded.
function safeEncode(value: string): string {
  try {
    return encodeURIComponent(value)
  } catch {
    return value
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
