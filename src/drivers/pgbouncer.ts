import pg from 'pg'
import {CommandLog, type Driver} from '../core/probe.js'
import {describePgConnectError} from './connect-errors.js'
import {connectClient} from './postgres.js'
import type {TargetSpec} from '../core/types.js'

export interface PgBouncerSessionOptions {
  connectTimeoutMs?: number
  /** Bounds each SHOW on the client side: the admin console has no statement_timeout to SET. */
  queryTimeoutMs?: number
}

/** The SHOW commands chokepoint issues; nothing else is ever sent to the admin console. */
export type ShowCommand = 'POOLS' | 'STATS' | 'DATABASES' | 'CONFIG' | 'VERSION' | 'LISTS'

/**
 * One connection to PgBouncer's admin console (the virtual database `pgbouncer`). The console speaks only the
 * simple query protocol and knows only its own commands: no SET, no parameters, no SELECT of settings. So the
 * session sends plain `SHOW <x>` strings, and the bounds that PgSession gets from statement_timeout come from
 * pg's client-side query_timeout instead. A stats_users member is enough; admin_users is never needed.
 */
export class PgBouncerSession {
  readonly log: CommandLog
  version = ''

  constructor(readonly client: pg.Client, readonly user: string, log?: CommandLog) {
    this.log = log ?? new CommandLog()
  }

  static async open(url: string, options: PgBouncerSessionOptions = {}, log?: CommandLog): Promise<PgBouncerSession> {
    const parsed = new URL(url)
    const user = decodeURIComponent(parsed.username || process.env.PGUSER || 'postgres')
    // The statistics live only in the admin console, whatever database the URL names (often the app's).
    // (pg lets the connection string win over a `database` option, so the URL itself is rewritten.)
    parsed.pathname = '/pgbouncer'
    const client = await connectClient({
      connectionString: parsed.toString(),
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      query_timeout: options.queryTimeoutMs ?? 10_000,
      // PgBouncer accepts application_name as a startup parameter (it shows in SHOW CLIENTS).
      application_name: 'chokepoint',
    }, 'PgBouncer')
    const session = new PgBouncerSession(client, user, log)
    session.log.currentProbe = 'connect'
    try {
      const rows = await session.show('VERSION')
      session.version = String(rows[0]?.version ?? '')
    } catch (error) {
      await session.close()
      throw new Error(describePgConnectError(error, 'PgBouncer', {user, where: `${client.host}:${client.port}`}))
    }
    return session
  }

  /** Runs one SHOW command (simple protocol: no parameters) and returns its rows. */
  async show<T extends Record<string, unknown> = Record<string, any>>(command: ShowCommand): Promise<T[]> {
    const text = `SHOW ${command}`
    this.log.record(text)
    const result = await this.client.query<T>(text)
    return result.rows
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {})
  }
}

export const pgbouncerDriver: Driver<PgBouncerSession> = {
  kind: 'pgbouncer',
  async connect(target: TargetSpec, log: CommandLog) {
    const session = await PgBouncerSession.open(target.url, (target.options ?? {}) as PgBouncerSessionOptions, log)
    return {conn: session, facts: {version: session.version, user: session.user}}
  },
  close: (session) => session.close(),
}
