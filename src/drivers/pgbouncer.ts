import pg from 'pg'
import {CommandLog, ConnectionLost, formatMs, positiveMs, withDeadline, type ConnectOptions, type Driver} from '../core/probe.js'
import {describePgConnectError} from './connect-errors.js'
import {connectClient, destroyClient, endClient, PG_DEFAULTS} from './postgres.js'
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
  /** Why the connection was dropped (a SHOW that outlived its deadline): every later SHOW fails at once. */
  lost?: string

  constructor(readonly client: pg.Client, readonly user: string, log?: CommandLog, readonly queryTimeoutMs = 10_000) {
    this.log = log ?? new CommandLog()
  }

  static async open(url: string, options: PgBouncerSessionOptions = {}, log?: CommandLog, connect: ConnectOptions = {}): Promise<PgBouncerSession> {
    const parsed = new URL(url)
    const user = decodeURIComponent(parsed.username || process.env.PGUSER || 'postgres')
    // The statistics live only in the admin console, whatever database the URL names (often the app's).
    // (pg lets the connection string win over a `database` option, so the URL itself is rewritten.)
    parsed.pathname = '/pgbouncer'
    const client = await connectClient({
      connectionString: parsed.toString(),
      connectionTimeoutMillis: positiveMs(options.connectTimeoutMs) ?? PG_DEFAULTS.connectTimeoutMs,
      // PgBouncer accepts application_name as a startup parameter (it shows in SHOW CLIENTS).
      application_name: 'chokepoint',
    }, 'PgBouncer', connect.signal)
    const session = new PgBouncerSession(client, user, log, positiveMs(options.queryTimeoutMs) ?? 10_000)
    const onAbort = () => session.abort('the capture gave up on this target')
    connect.signal?.addEventListener('abort', onAbort, {once: true})
    session.log.currentProbe = 'connect'
    try {
      const rows = await session.show('VERSION')
      session.version = String(rows[0]?.version ?? '')
    } catch (error) {
      await session.close()
      throw new Error(describePgConnectError(error, 'PgBouncer', {user, where: `${client.host}:${client.port}`}))
    } finally {
      connect.signal?.removeEventListener('abort', onAbort)
    }
    return session
  }

  /**
   * Runs one SHOW command (simple protocol: no parameters) and returns its rows. node-postgres' own query_timeout
   * would only reject, leaving the stalled command in the way of every later one; this drops the connection.
   */
  async show<T extends Record<string, unknown> = Record<string, any>>(command: ShowCommand): Promise<T[]> {
    if (this.lost) throw new ConnectionLost(this.lost)
    const text = `SHOW ${command}`
    const result = await this.log.run(text, () => withDeadline(this.client.query<T>(text), this.queryTimeoutMs, 'from PgBouncer',
      () => this.abort(`no answer from PgBouncer within ${formatMs(this.queryTimeoutMs)}`)))
    return result.rows
  }

  /** Drops the connection now: a stalled PgBouncer would never acknowledge a goodbye. */
  abort(why = 'dropped'): void {
    this.lost ??= why
    destroyClient(this.client)
  }

  async close(): Promise<void> {
    if (this.lost) return destroyClient(this.client)
    await endClient(this.client)
  }
}

export const pgbouncerDriver: Driver<PgBouncerSession> = {
  kind: 'pgbouncer',
  async connect(target: TargetSpec, log: CommandLog, _secrets, connect) {
    const session = await PgBouncerSession.open(target.url, (target.options ?? {}) as PgBouncerSessionOptions, log, connect)
    return {conn: session, facts: {version: session.version, user: session.user}}
  },
  close: (session) => session.close(),
  abort: (session) => session.abort(),
}
