/**
 * Shared helpers for PostgreSQL integration tests: the test-environment URLs (scripts/test-env.sh),
 * throwaway databases on the primary, and a one-target audit through the real runAudit path.
 */
import pg from 'pg'
import {runAudit} from '../../src/index.js'
import type {ChokepointConfig} from '../../src/core/config.js'
import type {FailOn, Report, Snapshot, TargetSpec} from '../../src/core/types.js'

/**
 * The ports of scripts/test-env.sh (PRIMARY_PORT, REPLICA_PORT, BOUNCER_PORT there): the one place tests and
 * benchmarks take them from. Below the kernel's ephemeral range (32768-60999), so no outgoing connection can hold
 * one when the harness binds it.
 */
export const PRIMARY_PORT = 25432
export const REPLICA_PORT = 25433
export const PGBOUNCER_PORT = 26432

/** PostgreSQL 15 primary of scripts/test-env.sh: trust auth, pg_stat_statements preloaded, hypopg available. */
export const PRIMARY_URL = `postgres://postgres@127.0.0.1:${PRIMARY_PORT}/postgres`
/** Streaming replica of the primary. */
export const REPLICA_URL = `postgres://postgres@127.0.0.1:${REPLICA_PORT}/postgres`
/** PgBouncer (transaction pooling, pool size 5) in front of the primary: the app user on database "appdb". */
export const PGBOUNCER_APP_URL = `postgres://app:app-secret@127.0.0.1:${PGBOUNCER_PORT}/appdb`
/** The same PgBouncer's admin console as its stats user (stats_users): what chokepoint needs. */
export const PGBOUNCER_STATS_URL = `postgres://chokepoint_stats:stats-secret@127.0.0.1:${PGBOUNCER_PORT}/pgbouncer`

/** The URL of another database on the same server as `url`. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${encodeURIComponent(database)}`
  return u.toString()
}

/** The same URL logging in as another role (a role without a privilege, in the tests that refuse it). */
export function withUser(url: string, user: string): string {
  const u = new URL(url)
  u.username = encodeURIComponent(user)
  return u.toString()
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** A connected node-postgres client (the caller ends it). Tagged so our own probes can tell test sessions apart. */
export async function connect(url: string, applicationName = 'chokepoint-test'): Promise<pg.Client> {
  const client = new pg.Client({connectionString: url, application_name: applicationName})
  client.on('error', () => {})
  await client.connect()
  return client
}

/**
 * Sessions a test holds open (a lock holder, a waiter), each with its backend pid; endAll() closes every one (call it
 * in afterEach, so a failed test leaves no lock behind).
 */
export function heldSessions(): {open(url: string, name: string): Promise<{client: pg.Client; pid: number}>; endAll(): Promise<void>} {
  const held: pg.Client[] = []
  return {
    async open(url, name) {
      const client = await connect(url, name)
      held.push(client)
      return {client, pid: (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number}
    },
    async endAll() {
      await Promise.all(held.splice(0).map((c) => c.end().catch(() => {})))
    },
  }
}

/** Runs one statement (or a few, separated by ;) on `url` with a short-lived admin connection. */
export async function adminQuery<T extends Record<string, any> = Record<string, any>>(url: string, text: string, params?: unknown[]): Promise<T[]> {
  const client = await connect(url, 'chokepoint-test-admin')
  try {
    return (await client.query<T>(text, params as unknown[])).rows
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * Creates database `name` on the server of `serverUrl` (the primary by default), passes its URL to fn, and
 * drops it afterwards (terminating any session still connected). A leftover from a crashed run is dropped first.
 */
export async function withTempDatabase<T>(name: string, fn: (url: string) => Promise<T>, serverUrl: string = PRIMARY_URL): Promise<T> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`withTempDatabase: use a lower-case identifier, got ${name}`)
  await dropDatabase(serverUrl, name)
  await adminQuery(serverUrl, `CREATE DATABASE ${quoteIdent(name)}`)
  try {
    return await fn(withDatabase(serverUrl, name))
  } finally {
    await dropDatabase(serverUrl, name)
  }
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  // WITH (FORCE) (PG13+) ends sessions a failed test left behind instead of failing the drop.
  await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)
}

export interface AuditTargetOptions {
  config?: ChokepointConfig
  windowSeconds?: number
  failOn?: FailOn
  /** Target name in the report; defaults to "pg". */
  name?: string
  /** Target options (statement timeouts, probe options). */
  options?: Record<string, unknown>
  /** Run only these probe ids (everything else of the kind is skipped), to keep tests fast and focused. */
  onlyProbes?: string[]
  log?: (message: string) => void
}

/** Audits one PostgreSQL target through runAudit (capture + rules + advisors + gate). */
export async function auditTarget(url: string, opts: AuditTargetOptions = {}): Promise<{report: Report; snapshot: Snapshot}> {
  const target: TargetSpec = {name: opts.name ?? 'pg', kind: 'postgres', url, options: opts.options ?? {}}
  let config: ChokepointConfig = opts.config ?? {}
  if (opts.onlyProbes) {
    const {postgresProbes} = await import('../../src/probes/postgres/index.js')
    const skip = postgresProbes.map((p) => p.id).filter((id) => !opts.onlyProbes!.includes(id))
    config = {...config, skipProbes: [...(config.skipProbes ?? []), ...skip]}
  }
  return runAudit({config, targets: [target], windowSeconds: opts.windowSeconds ?? 0, failOn: opts.failOn ?? 'critical', log: opts.log})
}

/** The reading of one probe in a snapshot (throws when it is missing, so a test cannot pass on nothing). */
export function readingOf(snapshot: Snapshot, probe: string) {
  const reading = snapshot.readings.find((r) => r.probe === probe)
  if (!reading) throw new Error(`no reading for ${probe}; readings: ${snapshot.readings.map((r) => r.probe).join(', ')}`)
  return reading
}

/**
 * Polls `sql` on `url` until its first row's `ok` is true. Statistics reach the shared views asynchronously (a
 * backend flushes its counters, a closed session leaves pg_stat_activity later): this waits for a state, and
 * asserts nothing about time. Throws when the state never comes, so the test fails here and not later.
 */
export async function waitForSql(url: string, sql: string, params: unknown[] = [], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const [row] = await adminQuery(url, sql, params)
    if (row?.ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`condition never held within ${timeoutMs} ms: ${sql.replace(/\s+/g, ' ')}`)
}

/**
 * Forgets a bulk load's row writes: a fresh database's statistics start at its creation, so rows inserted seconds
 * ago read as a very write-heavy table. Waits until the load's counters reached the shared statistics, then resets
 * this database's counters.
 */
export async function forgetLoadWrites(url: string): Promise<void> {
  await waitForSql(url, 'SELECT coalesce(sum(n_tup_ins), 0) > 0 AS ok FROM pg_stat_user_tables', [], 10_000)
  await adminQuery(url, 'SELECT pg_stat_reset()')
}
