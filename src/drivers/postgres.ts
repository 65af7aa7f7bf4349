import pg from 'pg'
import {CommandLog, ConnectionLost, formatMs, positiveMs, withDeadline, type ConnectOptions, type Driver} from '../core/probe.js'
import type {TargetSpec} from '../core/types.js'
import {describePgConnectError} from './connect-errors.js'

export interface PgSessionOptions {
  statementTimeoutMs?: number
  lockTimeoutMs?: number
  connectTimeoutMs?: number
  /** Read-only by default: only the scratch-database verification of the index advisor turns this off. */
  readOnly?: boolean
}

/** Client-side bounds of a PostgreSQL or PgBouncer connection (see docs/design.md section 7). */
export const PG_DEFAULTS = {
  connectTimeoutMs: 5000,
  statementTimeoutMs: 10_000,
  /**
   * How much longer than statement_timeout the client waits for an answer: the server cancels a slow statement
   * itself and answers with an error; only a stalled wire or server outlasts this.
   */
  querySlackMs: 2000,
  /** TCP keepalive probes start after this much idle time, so a peer that vanished is noticed by the kernel too. */
  keepAliveDelayMs: 10_000,
  /** A goodbye (Terminate) that is not acknowledged within this is cut short. */
  closeGraceMs: 2000,
}

/**
 * The client's deadline per query: statement_timeout plus PG_DEFAULTS.querySlackMs. An unusable statement timeout
 * (0 turns the server's off; a negative, non-numeric or infinite one is refused by the server at connect) leaves the
 * client its default: the wire is bounded whatever the server is told.
 */
export function pgQueryDeadlineMs(statementTimeoutMs: unknown): number {
  return (positiveMs(statementTimeoutMs) ?? PG_DEFAULTS.statementTimeoutMs) + PG_DEFAULTS.querySlackMs
}

/**
 * The comment every query chokepoint sends to PostgreSQL begins with. pg_stat_statements does not record
 * application_name, but it keeps a statement's text from its first byte, leading comment included (the first
 * statement of a query string starts at offset 0), so the plans probe can tell chokepoint's own catalog and
 * statistics reads apart and never counts them as the workload (docs/index-advisor.md, *Workload*). The text is
 * fixed ASCII with no `*` + `/` inside, so it cannot end the comment early or change what follows.
 */
export const CHOKEPOINT_SQL_MARKER = '/* chokepoint */'

/** `text` as chokepoint sends it: with CHOKEPOINT_SQL_MARKER in front. */
export function markSql(text: string): string {
  return `${CHOKEPOINT_SQL_MARKER} ${text}`
}

/** Rethrows a server error with its `position` (1-based characters) counted in the unmarked text. */
function unmarkPosition(error: unknown): never {
  const e = error as {position?: string}
  const position = Number(e?.position)
  if (e && typeof e === 'object' && position > 0) e.position = String(Math.max(1, position - CHOKEPOINT_SQL_MARKER.length - 1))
  throw error
}

/**
 * One connection to one PostgreSQL target, made safe for production: application_name 'chokepoint',
 * bounded statement and lock timeouts, read-only transactions, and a client-side deadline on every query.
 * Every query is counted.
 */
export class PgSession {
  readonly log: CommandLog
  serverVersionNum = 0
  inRecovery = false
  database = ''
  user = ''
  /**
   * pg_control_system().system_identifier (text: it is a 64-bit number): which cluster this is. Recorded in the report so
   * `apply --from` can refuse a report of another cluster behind the same address. A streaming standby shares it.
   */
  systemIdentifier = ''
  /** Why the connection was dropped (a query that outlived its deadline): every later query fails at once. */
  lost?: string

  constructor(readonly client: pg.Client, log?: CommandLog, readonly queryTimeoutMs = pgQueryDeadlineMs(undefined)) {
    this.log = log ?? new CommandLog()
  }

  static async open(url: string, options: PgSessionOptions = {}, log?: CommandLog, connect: ConnectOptions = {}): Promise<PgSession> {
    const client = await connectClient({
      connectionString: url,
      connectionTimeoutMillis: positiveMs(options.connectTimeoutMs) ?? PG_DEFAULTS.connectTimeoutMs,
      application_name: 'chokepoint',
    }, 'PostgreSQL', connect.signal)
    const session = new PgSession(client, log, pgQueryDeadlineMs(options.statementTimeoutMs))
    const onAbort = () => session.abort('the capture gave up on this target')
    connect.signal?.addEventListener('abort', onAbort, {once: true})
    try {
      const statementTimeout = Math.round(options.statementTimeoutMs ?? PG_DEFAULTS.statementTimeoutMs)
      const lockTimeout = Math.round(options.lockTimeoutMs ?? 1000)
      // One round trip: the safety settings and the facts every probe needs.
      const setup = (withIdentifier: boolean) => `SET application_name = 'chokepoint'; SET statement_timeout = ${statementTimeout}; SET lock_timeout = ${lockTimeout};`
        + ` SET default_transaction_read_only = ${options.readOnly === false ? 'off' : 'on'};`
        + ' SELECT current_setting(\'server_version_num\')::int AS version, pg_is_in_recovery() AS in_recovery,'
        + ' current_database() AS database, current_user AS "user"'
        + (withIdentifier ? ', (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier' : '')
      session.log.currentProbe = 'connect'
      // Any role may run pg_control_system() unless EXECUTE was revoked (a hardened server): then without the identifier.
      const results = await session.multi(setup(true)).catch((error) => {
        if ((error as {code?: string})?.code === '42501' && /pg_control_system/.test((error as Error).message)) return session.multi(setup(false))
        throw error
      })
      const facts = Array.isArray(results) ? results[results.length - 1]?.rows[0] : undefined
      // Something that took the login but did not run the batch (PgBouncer's admin console answers only SHOW).
      if (!facts) throw new Error('the server did not answer the session setup like PostgreSQL: is this a PostgreSQL database (not PgBouncer\'s admin console)?')
      session.serverVersionNum = facts.version
      session.inRecovery = facts.in_recovery
      session.database = facts.database
      session.user = facts.user
      session.systemIdentifier = facts.system_identifier ?? ''
    } catch (error) {
      // The socket is open even though the session is unusable: left open, it keeps the process alive after the report.
      await session.close()
      // PgBouncer's admin console takes the login and answers any other command with this.
      if (/use SHOW HELP/i.test((error as Error)?.message ?? '')) {
        throw new Error('this is PgBouncer\'s admin console, not a PostgreSQL database: audit it as a pgbouncer target (--pgbouncer), or give a database URL')
      }
      throw error
    } finally {
      connect.signal?.removeEventListener('abort', onAbort)
    }
    return session
  }

  private async raw(text: string, params?: unknown[]): Promise<pg.QueryResult | pg.QueryResult[]> {
    if (this.lost) throw new ConnectionLost(this.lost)
    // Sent with the marker (markSql), logged without it: the overhead report and --verbose show the query itself.
    // An error's position is given back in `text`'s terms (explainBatch finds the failing statement by it).
    return this.log.run(text, () => withDeadline(this.client.query(markSql(text), params as unknown[]).catch(unmarkPosition), this.queryTimeoutMs, 'from PostgreSQL',
      () => this.abort(`no answer from PostgreSQL within ${formatMs(this.queryTimeoutMs)}`)))
  }

  /**
   * Several statements in one round trip (simple protocol, no parameters), under the same deadline and counting
   * as any query: each statement's result, in order.
   */
  async multi(text: string): Promise<pg.QueryResult[]> {
    const results = await this.raw(text)
    return Array.isArray(results) ? results : [results]
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

  /** Drops the connection now: a stalled server would never acknowledge a goodbye. */
  abort(why = 'dropped'): void {
    this.lost ??= why
    destroyClient(this.client)
  }

  async close(): Promise<void> {
    if (this.lost) return destroyClient(this.client)
    await endClient(this.client)
  }
}

/** Destroys a client's socket at once: no Terminate, no waiting for the server to close its end. */
export function destroyClient(client: pg.Client): void {
  (client as unknown as {connection?: {stream?: {destroy(): void}}}).connection?.stream?.destroy()
}

/** Ends a client politely, but never waits longer than PG_DEFAULTS.closeGraceMs for the server's side. */
export async function endClient(client: pg.Client): Promise<void> {
  await withDeadline(client.end(), PG_DEFAULTS.closeGraceMs, 'to the goodbye', () => destroyClient(client)).catch(() => destroyClient(client))
}

/**
 * Connects a node-postgres client (to PostgreSQL or to PgBouncer's admin console). A failure becomes one line, scrubbed
 * of secrets, naming the address and user node-postgres resolved (URL, PG* variables or defaults).
 */
export async function connectClient(config: pg.ClientConfig, service: 'PostgreSQL' | 'PgBouncer', signal?: AbortSignal): Promise<pg.Client> {
  // connectionTimeoutMillis bounds the whole login (TCP, TLS, authentication), not only the TCP connect.
  const client = new pg.Client({keepAlive: true, keepAliveInitialDelayMillis: PG_DEFAULTS.keepAliveDelayMs, ...config})
  // Without a listener, a connection dropped by the server would crash the process instead of failing a probe.
  client.on('error', () => {})
  const onAbort = () => destroyClient(client)
  signal?.addEventListener('abort', onAbort, {once: true})
  try {
    if (signal?.aborted) throw new Error('the capture gave up on this target')
    await client.connect()
  } catch (error) {
    destroyClient(client)
    throw new Error(describePgConnectError(error, service, {user: client.user, where: `${client.host}:${client.port}`}))
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  return client
}

export const postgresDriver: Driver<PgSession> = {
  kind: 'postgres',
  async connect(target: TargetSpec, log: CommandLog, _secrets, connect) {
    const options = (target.options ?? {}) as PgSessionOptions
    const session = await PgSession.open(target.url, options, log, connect)
    return {
      conn: session,
      facts: {serverVersionNum: session.serverVersionNum, role: session.inRecovery ? 'standby' : 'primary', database: session.database, user: session.user,
        ...(session.systemIdentifier ? {systemIdentifier: session.systemIdentifier} : {})},
    }
  },
  close: (session) => session.close(),
  abort: (session) => session.abort(),
}
