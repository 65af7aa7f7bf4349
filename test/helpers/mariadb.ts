/**
 * MariaDB for the mysql target kind's tests: the harness's source and GTID replica (scripts/test-env.sh, MDB_* there),
 * a query helper, a wait for the replica to catch up, a one-target audit through runAudit, and a private mariadbd a
 * test may kill (startPrivateMariadb, like pg-cluster.ts for PostgreSQL).
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {chownSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import mysql from 'mysql2/promise'
import {runAudit} from '../../src/index.js'
import type {ChokepointConfig} from '../../src/core/config.js'
import type {FailOn, Report, Snapshot, TargetSpec} from '../../src/core/types.js'
import {freePort} from './process.js'

/** MDB_PRIMARY_PORT and MDB_REPLICA_PORT of scripts/test-env.sh. */
export const MARIADB_PORT = 25306
export const MARIADB_REPLICA_PORT = 25307
/** The harness's source as root (no password over TCP: test-only). */
export const MARIADB_ROOT_URL = `mysql://root@127.0.0.1:${MARIADB_PORT}/`
export const MARIADB_REPLICA_ROOT_URL = `mysql://root@127.0.0.1:${MARIADB_REPLICA_PORT}/`
/** The probe user with exactly the privileges docs/probes.md asks for. */
export const MARIADB_PROBE_PASSWORD = 'chokepoint-secret'
export const MARIADB_URL = `mysql://chokepoint:${MARIADB_PROBE_PASSWORD}@127.0.0.1:${MARIADB_PORT}/`
export const MARIADB_REPLICA_URL = `mysql://chokepoint:${MARIADB_PROBE_PASSWORD}@127.0.0.1:${MARIADB_REPLICA_PORT}/`
/** The machine's own MariaDB: performance_schema OFF. Read only, never changed. */
export const SYSTEM_MARIADB_URL = 'mysql://root@127.0.0.1:3306/'

/** A connection for planting state (the caller ends it). */
export async function mariadbConnect(url: string = MARIADB_ROOT_URL): Promise<mysql.Connection> {
  const u = new URL(url)
  const conn = await mysql.createConnection({host: u.hostname, port: Number(u.port), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) || undefined,
    database: u.pathname.slice(1) || undefined, multipleStatements: true})
  conn.on('error', () => {})
  return conn
}

/** Runs statements on `url` with a short-lived connection; the rows of the last result. */
export async function mariadbQuery<T = Record<string, any>>(url: string, sql: string, params?: unknown[]): Promise<T[]> {
  const conn = await mariadbConnect(url)
  try {
    const [rows] = await conn.query(sql, params)
    return rows as T[]
  } finally {
    await conn.end().catch(() => conn.destroy())
  }
}

/** Creates database `name` on the source (dropped first and afterwards). */
export async function withMariadbDatabase<T>(name: string, fn: (name: string) => Promise<T>, url = MARIADB_ROOT_URL): Promise<T> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`withMariadbDatabase: use a lower-case identifier, got ${name}`)
  await mariadbQuery(url, `DROP DATABASE IF EXISTS \`${name}\`; CREATE DATABASE \`${name}\``)
  try {
    return await fn(name)
  } finally {
    await mariadbQuery(url, `DROP DATABASE IF EXISTS \`${name}\``)
  }
}

/** Waits until the replica applied everything the source has written (its GTID position caught up), at most timeoutMs. */
export async function waitReplicaCaughtUp(timeoutMs = 20_000): Promise<void> {
  const [{pos}] = await mariadbQuery<{pos: string}>(MARIADB_ROOT_URL, 'SELECT @@gtid_binlog_pos AS pos')
  const [row] = await mariadbQuery<{done: number | null}>(MARIADB_REPLICA_ROOT_URL, 'SELECT MASTER_GTID_WAIT(?, ?) AS done', [pos, timeoutMs / 1000])
  if (Number(row?.done) !== 0) throw new Error(`the replica did not reach ${pos} within ${timeoutMs} ms`)
}

export interface MysqlAuditOptions {
  config?: ChokepointConfig
  windowSeconds?: number
  failOn?: FailOn
  name?: string
  options?: Record<string, unknown>
  /** Run only these probe ids. */
  onlyProbes?: string[]
  /** Called when the window starts, after the baselines (to plant something inside it); the window waits for it. */
  duringWindow?: () => Promise<void>
}

/** Audits one mysql target through runAudit. */
export async function auditMysql(url: string, opts: MysqlAuditOptions = {}): Promise<{report: Report; snapshot: Snapshot}> {
  const target: TargetSpec = {name: opts.name ?? 'mysql', kind: 'mysql', url, options: opts.options ?? {}}
  let config: ChokepointConfig = opts.config ?? {}
  if (opts.onlyProbes) {
    const {mysqlProbes} = await import('../../src/probes/mysql/index.js')
    config = {...config, skipProbes: [...(config.skipProbes ?? []), ...mysqlProbes.map((p) => p.id).filter((id) => !opts.onlyProbes!.includes(id))]}
  }
  let planted: Promise<void> | undefined
  const progress = {start(label: string) {
    if (opts.duringWindow && label.endsWith('sampling window')) planted = opts.duringWindow()
    return {tick() {}, end() {}}
  }}
  const result = await runAudit({config, targets: [target], windowSeconds: opts.windowSeconds ?? 0, failOn: opts.failOn ?? 'never', progress})
  // A planting that failed must fail the test, not vanish.
  await planted
  return result
}

/** Polls until `check` holds (state reaches the server's views asynchronously); throws when it never does. */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`never happened within ${timeoutMs} ms: ${what}`)
}

export interface PrivateMariadb {
  /** mysql://root@127.0.0.1:port/ */
  url: string
  port: number
  dir: string
  /** SIGKILL: a crash, mid-audit. */
  kill(): void
  destroy(): void
}

/**
 * A throwaway mariadbd of a test's own (mariadb-install-db into a temporary directory, a free port), run as the mysql
 * OS user, for faults the harness's shared server must not suffer. `settings` are extra --name=value options.
 */
export async function startPrivateMariadb(settings: Record<string, string> = {}): Promise<PrivateMariadb> {
  const dir = mkdtempSync(join(tmpdir(), 'cp-mariadb-'))
  const asRoot = process.getuid?.() === 0
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'mysql'], {encoding: 'utf8'})), Number(execFileSync('id', ['-g', 'mysql'], {encoding: 'utf8'})))
  const as = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'mysql', '--', cmd, ...args]] : [cmd, args])
  const data = join(dir, 'data')
  execFileSync(...as('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db']), {stdio: 'ignore'})
  const port = await freePort()
  const args = ['--no-defaults', `--datadir=${data}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(dir, 'mariadbd.sock')}`,
    `--pid-file=${join(dir, 'mariadbd.pid')}`, `--log-error=${join(dir, 'error.log')}`, '--skip-name-resolve', '--innodb-buffer-pool-size=32M',
    '--performance-schema=ON', ...Object.entries(settings).map(([k, v]) => `--${k}=${v}`)]
  const child: ChildProcess = spawn(...as('/usr/sbin/mariadbd', args), {stdio: 'ignore', detached: true})
  child.unref()
  const url = `mysql://root@127.0.0.1:${port}/`
  const server: PrivateMariadb = {
    url, port, dir,
    kill() {
      try {
        const pid = Number(execFileSync('cat', [join(dir, 'mariadbd.pid')], {encoding: 'utf8'}).trim())
        if (pid > 0) process.kill(pid, 'SIGKILL')
      } catch {}
      try {
        child.kill('SIGKILL')
      } catch {}
    },
    destroy() {
      server.kill()
      rmSync(dir, {recursive: true, force: true})
    },
  }
  try {
    await waitFor(async () => {
      try {
        // root@localhost only: a login over TCP from 127.0.0.1 needs its own user.
        execFileSync('mariadb', ['--no-defaults', '-S', join(dir, 'mariadbd.sock'), '-uroot', '-e',
          "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1'"], {stdio: 'ignore'})
        return true
      } catch {
        return false
      }
    }, `mariadbd on :${port} answers`, 30_000)
  } catch (error) {
    let log = ''
    try {
      log = readFileSync(join(dir, 'error.log'), 'utf8').split('\n').filter((l) => /ERROR/.test(l)).slice(-3).join('; ')
    } catch {}
    server.destroy()
    throw new Error(`${(error as Error).message}${log ? `: ${log}` : ''}`)
  }
  return server
}
