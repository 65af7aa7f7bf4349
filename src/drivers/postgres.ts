import pg from 'pg'
import {CommandLog, type Driver} from '../core/probe.js'
import type {TargetSpec} from '../core/types.js'
import {describePgConnectError} from './connect-errors.js'

export interface PgSessionOptions {
  statementTimeoutMs?: number
  lockTimeoutMs?: number
  connectTimeoutMs?: number
  /** Read-only by default: only the scratch-database verification of the index advisor turns this off. */
  readOnly?: boolean
}

/**
 * One connection to one PostgreSQL target, made safe for production: application_name 'chokepoint',
 * bounded statement and lock timeouts, and read-only transactions. Every query is counted.
 */
export class PgSession {
  readonly log: CommandLog
  serverVersionNum = 0
  inRecovery = false
  database = ''
  user = ''

  constructor(readonly client: pg.Client, log?: CommandLog) {
    this.log = log ?? new CommandLog()
  }

  static async open(url: string, options: PgSessionOptions = {}, log?: CommandLog): Promise<PgSession> {
    const client = await connectClient({
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      application_name: 'chokepoint',
    }, 'PostgreSQL')
    const session = new PgSession(client, log)
    const statementTimeout = Math.round(options.statementTimeoutMs ?? 10_000)
    const lockTimeout = Math.round(options.lockTimeoutMs ?? 1000)
    // One round trip: the safety settings and the facts every probe needs.
    const setup = `SET application_name = 'chokepoint'; SET statement_timeout = ${statementTimeout}; SET lock_timeout = ${lockTimeout};`
      + ` SET default_transaction_read_only = ${options.readOnly === false ? 'off' : 'on'};`
      + ' SELECT current_setting(\'server_version_num\')::int AS version, pg_is_in_recovery() AS in_recovery,'
      + ' current_database() AS database, current_user AS "user"'
    session.log.currentProbe = 'connect'
    const results = (await session.raw(setup)) as unknown as pg.QueryResult[]
    const facts = results[results.length - 1].rows[0]
    session.serverVersionNum = facts.version
    session.inRecovery = facts.in_recovery
    session.database = facts.database
    session.user = facts.user
    return session
  }

  private async raw(text: string, params?: unknown[]): Promise<pg.QueryResult | pg.QueryResult[]> {
    return this.log.run(text, () => this.client.query(text, params as unknown[]))
  }

  async query<T extends Record<string, unknown> = Record<string, any>>(text: string, params?: unknown[]): Promise<T[]> {
    const result = (await this.raw(text, params)) as pg.QueryResult<T>
    return result.rows
  }

  /** Whether an extension is installed in this database. */
  async hasExtension(name: string): Promise<boolean> {
    const rows = await this.query('SELECT 1 FROM pg_extension WHERE extname = $1', [name])
    return rows.length > 0
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {})
  }
}

/**
 * Connects a node-postgres client (to PostgreSQL or to PgBouncer's admin console). A failure becomes one line, scrubbed
 * of secrets, naming the address and user node-postgres resolved (URL, PG* variables or defaults).
 */
export async function connectClient(config: pg.ClientConfig, service: 'PostgreSQL' | 'PgBouncer'): Promise<pg.Client> {
  const client = new pg.Client(config)
  // Without a listener, a connection dropped by the server would crash the process instead of failing a probe.
  client.on('error', () => {})
  try {
    await client.connect()
  } catch (error) {
    await client.end().catch(() => {})
    throw new Error(describePgConnectError(error, service, {user: client.user, where: `${client.host}:${client.port}`}))
  }
  return client
}

export const postgresDriver: Driver<PgSession> = {
  kind: 'postgres',
  async connect(target: TargetSpec, log: CommandLog) {
    const options = (target.options ?? {}) as PgSessionOptions
    const session = await PgSession.open(target.url, options, log)
    return {
      conn: session,
      facts: {serverVersionNum: session.serverVersionNum, role: session.inRecovery ? 'standby' : 'primary', database: session.database, user: session.user},
    }
  },
  close: (session) => session.close(),
}
