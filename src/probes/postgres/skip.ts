import {ProbeSkip} from '../../core/errors.js'
import type {PgSession} from '../../drivers/postgres.js'

/**
 * Turns the server errors that mean "this probe does not apply here" into a ProbeSkip that names the fix,
 * so a missing privilege or an older server is recorded as skipped instead of making the audit incomplete.
 * Anything else is rethrown unchanged (a real error).
 */
export function skipIfNotApplicable(error: unknown, session: PgSession, what: string): never {
  const code = (error as {code?: string})?.code
  const message = (error as {message?: string})?.message ?? String(error)
  if (code === '42501') {
    throw new ProbeSkip(`${what}: permission denied (${message}); fix: GRANT pg_read_all_stats TO ${quoteRole(session.user)}`)
  }
  // undefined_column / undefined_function / undefined_table: a catalog this probe reads differs on this server version.
  if (code === '42703' || code === '42883' || code === '42P01') {
    throw new ProbeSkip(`${what}: a catalog column or function it reads is missing on server version ${session.serverVersionNum} (${message}); upgrade the server or skip this probe (skipProbes)`)
  }
  throw error
}

/**
 * The one row a probe's query returns (undefined when it returns none), with the errors that mean "does not apply
 * here" turned into a ProbeSkip named after `what` (see skipIfNotApplicable). Most PostgreSQL probes read
 * everything they need in one such row, so that the round trips stay fixed whatever the size of the database.
 */
export async function queryRow<T>(session: PgSession, what: string, sql: string, params?: unknown[]): Promise<T> {
  try {
    return (await session.query<T & Record<string, unknown>>(sql, params))[0]
  } catch (error) {
    skipIfNotApplicable(error, session, what)
  }
}

/** ProbeSkip unless the server is at least `minVersionNum` (server_version_num, e.g. 130000). */
export function requireVersion(session: PgSession, minVersionNum: number, what: string): void {
  if (session.serverVersionNum > 0 && session.serverVersionNum < minVersionNum) {
    throw new ProbeSkip(`${what} needs PostgreSQL ${Math.floor(minVersionNum / 10000)} or later; this server is ${session.serverVersionNum}`)
  }
}

export function quoteRole(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`
}

/** node-postgres returns int8 and numeric as strings: converts them (and nulls) for metrics and evidence. */
export function num(value: unknown): number {
  if (value === null || value === undefined) return 0
  const n = typeof value === 'number' ? value : Number(value)
  return Number.isFinite(n) ? n : 0
}

export function numOrNull(value: unknown): number | null {
  if (value === null || value === undefined) return null
  const n = typeof value === 'number' ? value : Number(value)
  return Number.isFinite(n) ? n : null
}

/** A positive integer probe option, or the default. */
export function intOption(options: Record<string, unknown>, key: string, fallback: number): number {
  const raw = options[key]
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN
  return Number.isInteger(n) && n > 0 ? n : fallback
}
