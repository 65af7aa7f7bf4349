/** What the core needs of a secret registry (src/core/redact.ts implements it): one per audit, never global. */
export interface Secrets {
  register(secret: string | undefined | null): void
  /** The URL with its password (and secret query parameters) removed; registers what it removed. */
  redactUrl(url: string): string
  /** The text with every registered secret, and any URL password, masked. */
  scrub(text: string): string
}
