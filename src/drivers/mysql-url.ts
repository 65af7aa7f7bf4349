/**
 * The query parameters a mysql target URL may carry (TLS, named like the mysql client's options), checked with the
 * config before anything connects and again by the driver. No client library here: the registry's kind definition
 * calls it while building flags and validating a config.
 */
export const MYSQL_URL_PARAMETERS = ['ssl-mode', 'ssl-ca', 'ssl-cert', 'ssl-key'] as const
export const MYSQL_SSL_MODES = ['DISABLED', 'REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY'] as const

/** The first problem with a mysql URL's parameters, in one line with the fix; undefined when there is none. */
export function mysqlUrlProblem(u: URL): string | undefined {
  for (const key of u.searchParams.keys()) {
    if (!(MYSQL_URL_PARAMETERS as readonly string[]).includes(key)) return `mysql URL: unknown parameter "${key}" (supported: ${MYSQL_URL_PARAMETERS.join(', ')})`
  }
  const mode = (u.searchParams.get('ssl-mode') ?? 'DISABLED').toUpperCase()
  if (!(MYSQL_SSL_MODES as readonly string[]).includes(mode)) {
    return `mysql URL: ssl-mode=${mode} is not supported; use one of ${MYSQL_SSL_MODES.join(', ')}${mode === 'PREFERRED' ? ' (PREFERRED would fall back to plain text silently)' : ''}`
  }
  if ((mode === 'VERIFY_CA' || mode === 'VERIFY_IDENTITY') && !u.searchParams.get('ssl-ca')) return `mysql URL: ssl-mode=${mode} needs ssl-ca=/path/to/ca.pem`
  if (u.searchParams.get('ssl-cert') && !u.searchParams.get('ssl-key')) return 'mysql URL: ssl-cert needs ssl-key (the client certificate\'s private key)'
  return undefined
}
