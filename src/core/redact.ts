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
const CREDENTIAL_START = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*:\/*([^\s:/@"'<>`]*):/g
// Quotes, angle brackets and backticks end a URL in prose and in JSON; without this, compact JSON (one long
// run without spaces) would be masked from one URL to some `@` in a later field.
const URL_END = /[\s"'<>`]/g
// A second URL in the same run (comma-separated host lists) has its own `@`.
const NEXT_URL = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*:\/\//g

const IDENT_CHAR = /^[\p{L}\p{N}_]$/u
const JOINERS = new Set(['-', '.'])
// Escapes whose last character is a letter or digit, but which stand for a separator: terminal colours
// (`\x1b[31m`), JSON string escapes (`\n`, `\u0022`) and percent-escapes (`%20`). Without this, a secret
// right after a newline in a JSON error message would look like the tail of an identifier.
const ESCAPE_BEFORE = /(?:\x1b\[[0-9;?]*[ -/]*[@-~]|\\[nrtbf]|\\u[0-9a-fA-F]{4}|%[0-9a-fA-F]{2})$/

interface Span {
  start: number
  end: number
}

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

  /** Registers a secret with its percent-decoded, percent-encoded and JSON-escaped forms, any of which may be echoed. */
  register(secret: string | undefined | null): void {
    if (!secret) return
    for (const form of new Set([secret, safeDecode(secret), encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])) {
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
    let from = 0
    while ((from = masked.indexOf(REDACTED, from)) !== -1) {
      keep.push({start: from, end: from + REDACTED.length})
      from += REDACTED.length
    }
    // Longest first, so that a secret containing a shorter one is masked whole rather than in pieces.
    const secrets = [...new Set(this.secrets())].sort((a, b) => b.length - a.length)
    // One flag per character: overlap checks stay linear however often a secret occurs.
    const taken = new Uint8Array(masked.length)
    for (const k of keep) taken.fill(1, k.start, k.end)
    const hits: Span[] = []
    for (const secret of secrets) {
      for (let at = masked.indexOf(secret); at !== -1; at = masked.indexOf(secret, at + 1)) {
        const span = {start: at, end: at + secret.length}
        if (!standsAlone(masked, span, secret) || taken.subarray(span.start, span.end).includes(1)) continue
        taken.fill(1, span.start, span.end)
        hits.push(span)
      }
    }
    if (hits.length === 0) return masked
    hits.sort((a, b) => a.start - b.start)
    let out = ''
    let last = 0
    for (const hit of hits) {
      out += masked.slice(last, hit.start) + MASK
      last = hit.end
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
function maskStructure(text: string, found?: (secret: string) => void): {text: string; keep: Span[]; credentials: number} {
  const params = text.replace(SECRET_PARAM, (whole, key: string, value: string) => {
    if (value === '' || value === REDACTED) return whole
    found?.(value)
    found?.(safeDecode(value))
    return key + REDACTED
  })

  const keep: Span[] = []
  let credentials = 0
  const ends = new PasswordEnds(params)
  let out = ''
  let copied = 0
  CREDENTIAL_START.lastIndex = 0
  for (let m = CREDENTIAL_START.exec(params); m; m = CREDENTIAL_START.exec(params)) {
    const passwordStart = m.index + m[0].length
    const userStart = passwordStart - 1 - m[1].length
    let passwordEnd: number
    if (params.startsWith(`${REDACTED}@`, passwordStart)) {
      passwordEnd = passwordStart + REDACTED.length
    } else {
      passwordEnd = ends.at(passwordStart)
      if (passwordEnd < 0) {
        // Not a credential after all (postgres://host:5432/db); a real one may start inside what was matched.
        CREDENTIAL_START.lastIndex = m.index + 1
        continue
      }
    }
    const password = params.slice(passwordStart, passwordEnd)
    out += params.slice(copied, userStart)
    keep.push({start: out.length, end: out.length + m[1].length})
    out += `${m[1]}:${REDACTED}`
    copied = passwordEnd
    if (password !== REDACTED) {
      credentials++
      found?.(password)
      found?.(safeDecode(password))
    }
    CREDENTIAL_START.lastIndex = passwordEnd
  }
  return {text: out + params.slice(copied), keep, credentials}
}

/**
 * Finds where a password ends: the last `@` of the URL's run (up to a separator), or of the part before a
 * following URL when that part has one. Indexes each run once, so text with many `a:b` but no `@` stays linear.
 */
class PasswordEnds {
  private start = 0
  private end = -1
  private ats: number[] = []
  private urls: number[] = []

  constructor(private readonly text: string) {}

  /** The index of the `@` that ends a password starting at `from`, or -1 if no `@` follows within the URL. */
  at(from: number): number {
    // A password starting with `//` is the rest of a URL seen from a prefix like `see:postgres://...`.
    if (this.text.startsWith('//', from)) return -1
    if (from < this.start || from >= this.end) this.index(from)
    const next = this.urls.find((u) => u >= from) ?? Infinity
    let last = -1
    let lastBeforeNext = -1
    for (let i = this.ats.length - 1; i >= 0 && this.ats[i] >= from; i--) {
      if (last < 0) last = this.ats[i]
      if (this.ats[i] < next) {
        lastBeforeNext = this.ats[i]
        break
      }
    }
    // The last `@`: people paste unencoded passwords like p@ss, and `new URL` also splits at the last one.
    // Before a following URL if there is one there; else anywhere in the run, since a password may contain `x://`.
    return lastBeforeNext >= 0 ? lastBeforeNext : last
  }

  private index(from: number): void {
    URL_END.lastIndex = from
    this.start = from
    this.end = URL_END.exec(this.text)?.index ?? this.text.length
    // Searched in a copy of the run: searching the whole text would scan past the run for every run.
    const run = this.text.slice(from, this.end)
    this.ats = []
    for (let i = run.indexOf('@'); i !== -1; i = run.indexOf('@', i + 1)) this.ats.push(from + i)
    this.urls = [...run.matchAll(NEXT_URL)].map((m) => from + m.index)
  }
}

function standsAlone(text: string, span: Span, secret: string): boolean {
  if (isIdent(secret[0]) && joinsLeft(text, span.start)) return false
  if (isIdent(secret[secret.length - 1]) && joinsRight(text, span.end)) return false
  return true
}

function joinsLeft(text: string, at: number): boolean {
  const before = text[at - 1]
  if (before === undefined) return false
  if (isIdent(before)) return !ESCAPE_BEFORE.test(text.slice(Math.max(0, at - 32), at))
  return JOINERS.has(before) && isIdent(text[at - 2])
}

function joinsRight(text: string, at: number): boolean {
  const after = text[at]
  if (after === undefined) return false
  return isIdent(after) || (JOINERS.has(after) && isIdent(text[at + 1]))
}

function isIdent(char: string | undefined): boolean {
  return char !== undefined && IDENT_CHAR.test(char)
}

function tryParse(raw: string): URL | undefined {
  try {
    return new URL(raw)
  } catch {
    return undefined
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
