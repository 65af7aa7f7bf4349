/**
 * Secrets must never reach any output. Two layers: URLs are shown with the password removed, and every
 * password, token or key we were given is registered so that final output can be scrubbed of it even when a
 * driver echoes it in an error message.
 */
const registered = new Set<string>()

export const REDACTED = '<password removed>'

export function registerSecret(secret: string | undefined | null): void {
  // Very short secrets would scrub ordinary words from reports; they are still removed from URLs.
  if (secret && secret.length >= 3) registered.add(secret)
}

/** Parses a URL, registers its password (and its percent-decoded form), and returns it with the password removed. */
export function redactUrl(raw: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return scrubSecrets(raw)
  }
  if (url.password) {
    registerSecret(url.password)
    registerSecret(safeDecode(url.password))
    // Built by hand: URL.toString() drops the '@' when a password-only URL (redis://:pw@host) loses its password.
    return `${url.protocol}//${url.username}:${REDACTED}@${url.host}${url.pathname}${url.search}${url.hash}`
  }
  for (const key of ['password', 'sslpassword', 'token', 'api_key']) {
    const value = url.searchParams.get(key)
    if (value) {
      registerSecret(value)
      url.searchParams.set(key, REDACTED)
    }
  }
  return url.toString()
}

/** Removes every registered secret from free text (error messages, rendered reports). */
export function scrubSecrets(text: string): string {
  let out = text
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join('***')
  }
  // A URL with credentials that was never registered (e.g. typed into a message) still loses its password.
  return out.replace(/([a-z+]+:\/\/[^:/@\s]*):([^@\s/]+)@/gi, `$1:${REDACTED}@`)
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}
