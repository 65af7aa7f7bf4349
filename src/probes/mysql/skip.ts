import {ProbeSkip} from '../../core/errors.js'
import type {MysqlSession} from '../../drivers/mysql.js'

/** The privilege each kind of read needs, for the skip's fix (docs/probes.md, *MySQL and MariaDB*). */
export type MysqlPrivilege = 'PROCESS' | 'performance_schema' | 'replication'

function grantFor(session: MysqlSession, privilege: MysqlPrivilege): string {
  const user = `'${session.user.replace(/'/g, "''")}'@'%'`
  if (privilege === 'performance_schema') return `GRANT SELECT ON performance_schema.* TO ${user}`
  if (privilege === 'replication') return session.flavour === 'mariadb' ? `GRANT SLAVE MONITOR, BINLOG MONITOR ON *.* TO ${user}` : `GRANT REPLICATION CLIENT ON *.* TO ${user}`
  return `GRANT PROCESS ON *.* TO ${user}`
}

/**
 * Server errors that mean "this probe does not apply here" become a ProbeSkip naming the fix: a missing privilege
 * (1227 specific, 1142 table, 1044 database access denied) or a table this server version lacks (1146, 1109, 1054).
 * Anything else is rethrown: a real error.
 */
export function skipIfNotApplicable(error: unknown, session: MysqlSession, what: string, privilege: MysqlPrivilege): never {
  const e = error as {errno?: number; sqlMessage?: string; message?: string}
  const message = (e?.sqlMessage ?? e?.message ?? String(error)).split('\n')[0]
  if (e?.errno === 1227 || e?.errno === 1142 || e?.errno === 1044) {
    throw new ProbeSkip(`${what}: permission denied (${message}); fix: ${grantFor(session, privilege)}`)
  }
  if (e?.errno === 1146 || e?.errno === 1109 || e?.errno === 1054) {
    throw new ProbeSkip(`${what}: a table or column it reads is missing on ${session.flavour} ${session.version} (${message}); upgrade the server or skip this probe (skipProbes)`)
  }
  throw error
}

/** Runs `sql`, turning the "does not apply" errors into a skip (skipIfNotApplicable). */
export async function queryOrSkip<T extends Record<string, unknown> = Record<string, any>>(session: MysqlSession, what: string, privilege: MysqlPrivilege, sql: string, params?: unknown[]): Promise<T[]> {
  try {
    return await session.query<T>(sql, params)
  } catch (error) {
    skipIfNotApplicable(error, session, what, privilege)
  }
}

/** SHOW GLOBAL STATUS / VARIABLES rows (Variable_name, Value) as a map, names as the server spells them. */
export function nameValues(rows: Array<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const row of rows) {
    const name = row.Variable_name ?? row.VARIABLE_NAME
    if (typeof name === 'string') out[name] = String(row.Value ?? row.VARIABLE_VALUE ?? '')
  }
  return out
}

/** performance_schema timers are picoseconds. */
export const PICOSECONDS_PER_SECOND = 1e12

/** Skipped when performance_schema is OFF: the tables exist and read as empty, which would look like an idle server. */
export async function requirePerformanceSchema(session: MysqlSession, what: string): Promise<void> {
  const [row] = await session.query<{on: string | number}>('SELECT @@performance_schema AS `on`')
  if (Number(row?.on ?? 0) !== 1) throw new ProbeSkip(`${what}: performance_schema is OFF: set performance_schema=ON in the server config and restart`)
}
