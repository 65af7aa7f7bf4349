import {readFileSync} from 'node:fs'
import type {Connection, ConnectionOptions} from 'mysql2/promise'
import {CommandLog, ConnectionLost, formatMs, positiveMs, withDeadline, type ConnectOptions, type Driver} from '../core/probe.js'
import {ConfigError} from '../core/errors.js'
import type {Secrets} from '../core/secrets.js'
import type {TargetSpec} from '../core/types.js'
import {describeMysqlError} from './connect-errors.js'
import {mysqlUrlProblem} from './mysql-url.js'

export interface MysqlSessionOptions {
  statementTimeoutMs?: number
  lockWaitTimeoutMs?: number
  connectTimeoutMs?: number
}

/** Client-side bounds of a MySQL or MariaDB connection (docs/design.md section 7). */
export const MYSQL_DEFAULTS = {
  connectTimeoutMs: 5000,
  /** max_statement_time (MariaDB) / max_execution_time (MySQL) of chokepoint's session. */
  statementTimeoutMs: 10_000,
  /** innodb_lock_wait_timeout and lock_wait_timeout: whole seconds on the server, at least 1. */
  lockWaitTimeoutMs: 1000,
  /** The client waits this much longer than the server's statement limit: only a stalled wire outlasts it. */
  querySlackMs: 2000,
  keepAliveDelayMs: 10_000,
  closeGraceMs: 2000,
}

export type MysqlFlavour = 'mariadb' | 'mysql'

/** The comment every statement chokepoint sends starts with: the sessions probe and a DBA's processlist tell them apart. */
export const MYSQL_SQL_MARKER = '/* chokepoint */'

/**
 * mysql2's connection options from a mysql:// or mariadb:// URL. TLS follows the mysql client's --ssl-mode names:
 * REQUIRED encrypts without checking the certificate, VERIFY_CA checks it against ssl-ca, VERIFY_IDENTITY also checks
 * the host name; PREFERRED (try TLS, fall back to plain) has no mysql2 equivalent and is refused rather than guessed.
 */
export function mysqlConnectionOptions(url: string, options: MysqlSessionOptions = {}): ConnectionOptions {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new ConfigError('not a well-formed mysql URL; write it as mysql://user:password@host:3306/db')
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') throw new ConfigError(`a mysql target URL starts with mysql:// or mariadb://, not ${u.protocol}//`)
  const problem = mysqlUrlProblem(u)
  if (problem) throw new ConfigError(problem)
  const mode = (u.searchParams.get('ssl-mode') ?? 'DISABLED').toUpperCase()
  const file = (key: string) => {
    const path = u.searchParams.get(key)
    if (!path) return undefined
    try {
      return readFileSync(path)
    } catch {
      throw new ConfigError(`mysql URL: ${key}=${path} cannot be read: check the path`)
    }
  }
  const ca = file('ssl-ca')
  const ssl = mode === 'DISABLED' ? undefined : {
    rejectUnauthorized: mode !== 'REQUIRED',
    ...(ca ? {ca} : {}),
    ...(file('ssl-cert') ? {cert: file('ssl-cert'), key: file('ssl-key')} : {}),
    // VERIFY_CA trusts the chain and not the name, as the mysql client does.
    ...(mode === 'VERIFY_CA' ? {checkServerIdentity: () => undefined} : {}),
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''))
  return {
    host: u.hostname || 'localhost',
    port: u.port ? Number(u.port) : 3306,
    user: decodeURIComponent(u.username || 'root'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    ...(database ? {database} : {}),
    connectTimeout: positiveMs(options.connectTimeoutMs) ?? MYSQL_DEFAULTS.connectTimeoutMs,
    ...(ssl ? {ssl} : {}),
    // Counters are BIGINT UNSIGNED (picoseconds overflow 2^53 within days): strings, converted where read.
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    multipleStatements: false,
    enableKeepAlive: true,
    keepAliveInitialDelay: MYSQL_DEFAULTS.keepAliveDelayMs,
    connectAttributes: {program_name: 'chokepoint'},
  }
}

/** MariaDB says so in VERSION() ("10.11.19-MariaDB-...") or, behind some proxies, in @@version_comment. */
export function detectFlavour(version: string, comment: string): MysqlFlavour {
  return /mariadb/i.test(version) || /mariadb/i.test(comment) ? 'mariadb' : 'mysql'
}

/** "10.11.19-MariaDB-0+deb12u1-log" -> 101119; "8.0.36" -> 80036 (major*10000 + minor*100 + patch). */
export function versionNumber(version: string): number {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version)
  return m ? Number(m[1]) * 10_000 + Number(m[2]) * 100 + Number(m[3]) : 0
}

/** The session's statement limit as the flavour takes it: MariaDB max_statement_time in seconds, MySQL max_execution_time in ms. */
export function statementLimitSql(flavour: MysqlFlavour, ms: number): string {
  return flavour === 'mariadb' ? `max_statement_time = ${(ms / 1000).toFixed(3)}` : `max_execution_time = ${Math.round(ms)}`
}

/**
 * One connection to one MySQL or MariaDB server, made safe for production: read-only transactions, a statement time
 * limit, short lock waits, a client-side deadline on every query. Every query goes through the CommandLog.
 */
export class MysqlSession {
  flavour: MysqlFlavour = 'mysql'
  version = ''
  versionNum = 0
  serverId = 0
  readOnly = false
  /** Whether the server replicates from a source (SHOW REPLICA/ALL SLAVES STATUS has a row); null when not allowed to look. */
  isReplica: boolean | null = null
  user = ''
  database = ''
  /** Why the connection was dropped: every later query fails at once. */
  lost?: string

  constructor(readonly conn: Connection, readonly log: CommandLog, readonly queryTimeoutMs: number) {}

  static async open(url: string, options: MysqlSessionOptions = {}, log = new CommandLog(), connect: ConnectOptions = {}, secrets?: Secrets): Promise<MysqlSession> {
    const config = mysqlConnectionOptions(url, options)
    secrets?.register(config.password)
    const where = `${config.host}:${config.port}`
    const {createConnection} = await import('mysql2/promise')
    const statementMs = positiveMs(options.statementTimeoutMs) ?? MYSQL_DEFAULTS.statementTimeoutMs
    let conn: Connection | undefined
    const pending = createConnection(config)
    const onAbort = () => {
      void pending.then((c) => c.destroy(), () => {})
    }
    connect.signal?.addEventListener('abort', onAbort, {once: true})
    try {
      // connectTimeout bounds the TCP connect and the handshake; the deadline covers a server that accepts and stalls.
      const loginMs = (config.connectTimeout ?? MYSQL_DEFAULTS.connectTimeoutMs) + MYSQL_DEFAULTS.querySlackMs
      conn = await withDeadline(pending, loginMs, `from MySQL at ${where} while connecting`, onAbort)
    } catch (error) {
      if (connect.signal?.aborted) throw new Error('the capture gave up on this target')
      throw new Error(describeMysqlError(error, {user: config.user, where, database: config.database}))
    } finally {
      connect.signal?.removeEventListener('abort', onAbort)
    }
    const session = new MysqlSession(conn, log, statementMs + MYSQL_DEFAULTS.querySlackMs)
    session.user = config.user ?? ''
    session.database = config.database ?? ''
    // Without a listener, a server that goes away would crash the process instead of failing a probe.
    const onLost = (error?: unknown) => {
      session.lost ??= `the server closed the connection${error ? ` (${(error as Error).message ?? error})` : ''}`
    }
    conn.on('error', onLost)
    conn.on('end', () => onLost())
    const stopAbort = () => session.abort('the capture gave up on this target')
    connect.signal?.addEventListener('abort', stopAbort, {once: true})
    try {
      log.currentProbe = 'connect'
      await session.query('SET SESSION TRANSACTION READ ONLY')
      const [facts] = await session.query<{version: string; comment: string; server_id: string; read_only: string}>(
        'SELECT VERSION() AS version, @@version_comment AS comment, @@server_id AS server_id, @@read_only AS read_only')
      session.version = String(facts?.version ?? '')
      session.flavour = detectFlavour(session.version, String(facts?.comment ?? ''))
      session.versionNum = versionNumber(session.version)
      session.serverId = Number(facts?.server_id ?? 0)
      session.readOnly = Number(facts?.read_only ?? 0) === 1
      const lockSeconds = Math.max(1, Math.round((positiveMs(options.lockWaitTimeoutMs) ?? MYSQL_DEFAULTS.lockWaitTimeoutMs) / 1000))
      await session.query(`SET SESSION ${statementLimitSql(session.flavour, statementMs)}, innodb_lock_wait_timeout = ${lockSeconds}, lock_wait_timeout = ${lockSeconds}`)
      session.isReplica = await session.replicaRows().then((rows) => rows.length > 0, () => null)
    } catch (error) {
      session.abort()
      throw new Error(describeMysqlError(error, {user: session.user, where, database: session.database}))
    } finally {
      connect.signal?.removeEventListener('abort', stopAbort)
    }
    return session
  }

  /**
   * The replica status rows: SHOW ALL SLAVES STATUS on MariaDB (every named source connection), SHOW REPLICA STATUS
   * on MySQL 8.0.22 and later, SHOW SLAVE STATUS before it. Columns differ by flavour and version: look them up by name.
   */
  replicaRows(): Promise<Record<string, unknown>[]> {
    const sql = this.flavour === 'mariadb' ? 'SHOW ALL SLAVES STATUS' : this.versionNum >= 80022 ? 'SHOW REPLICA STATUS' : 'SHOW SLAVE STATUS'
    return this.query(sql)
  }

  async query<T extends Record<string, unknown> = Record<string, any>>(text: string, params?: unknown[]): Promise<T[]> {
    if (this.lost) throw new ConnectionLost(this.lost)
    const [rows] = await this.log.run(text, () => withDeadline(this.conn.query(`${MYSQL_SQL_MARKER} ${text}`, params), this.queryTimeoutMs, 'from MySQL',
      () => this.abort(`no answer from MySQL within ${formatMs(this.queryTimeoutMs)}`)))
    return rows as T[]
  }

  abort(why = 'dropped'): void {
    this.lost ??= why
    this.conn.destroy()
  }

  async close(): Promise<void> {
    if (this.lost) return this.conn.destroy()
    await withDeadline(this.conn.end(), MYSQL_DEFAULTS.closeGraceMs, 'to the goodbye', () => this.conn.destroy()).catch(() => this.conn.destroy())
  }
}

export const mysqlDriver: Driver<MysqlSession> = {
  kind: 'mysql',
  async connect(target: TargetSpec, log: CommandLog, secrets, connect) {
    const session = await MysqlSession.open(target.url, (target.options ?? {}) as MysqlSessionOptions, log, connect, secrets)
    return {
      conn: session,
      facts: {flavour: session.flavour, version: session.version, readOnly: session.readOnly, serverId: session.serverId,
        role: session.isReplica === null ? 'unknown' : session.isReplica ? 'replica' : 'primary', user: session.user,
        ...(session.database ? {database: session.database} : {})},
    }
  },
  close: (session) => session.close(),
  abort: (session) => session.abort(),
}
