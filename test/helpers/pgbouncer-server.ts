/**
 * A private PgBouncer per test, for states the shared one (scripts/test-env.sh, PGBOUNCER_PORT) must not be pushed into:
 * a tiny pool with clients queued behind it. Same approach as test-env.sh (md5 auth_file, stats and admin
 * users, transaction pooling, fronting the test primary), on a free port, in a temp dir, as an unprivileged OS
 * user (PgBouncer refuses to run as root). stop() kills exactly the process it started.
 */
import {execFileSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import pg from 'pg'
import {PRIMARY_PORT} from './pg.js'
import {freePort, stopProcess} from './process.js'

export interface PgBouncerServer {
  port: number
  /** Stats user (stats_users): what chokepoint needs. */
  statsUrl: string
  /** App user on database appdb (-> the primary's postgres database). */
  appUrl: string
  stop(): Promise<void>
}

const BINARY = '/usr/sbin/pgbouncer'
const md5 = (user: string, password: string) => `"${user}" "md5${createHash('md5').update(password + user).digest('hex')}"`

function osUser(): string {
  for (const name of ['pgbouncer', 'postgres']) {
    try {
      execFileSync('id', ['-u', name], {stdio: 'ignore'})
      return name
    } catch {}
  }
  throw new Error('no unprivileged pgbouncer/postgres OS user to run PgBouncer as')
}

function uidGid(name: string): [number, number] {
  return [Number(execFileSync('id', ['-u', name]).toString().trim()), Number(execFileSync('id', ['-g', name]).toString().trim())]
}

export async function startPgBouncer(opts: {poolSize: number; primaryPort?: number; extra?: string}): Promise<PgBouncerServer> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'chokepoint-pgbouncer-'))
  const user = osUser()
  const [uid, gid] = uidGid(user)
  const ini = `[databases]
appdb = host=127.0.0.1 port=${opts.primaryPort ?? PRIMARY_PORT} dbname=postgres user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = md5
auth_file = ${dir}/userlist.txt
admin_users = chokepoint_admin
stats_users = chokepoint_stats
pool_mode = transaction
default_pool_size = ${opts.poolSize}
max_client_conn = 50
ignore_startup_parameters = extra_float_digits,options
logfile = ${dir}/pgbouncer.log
pidfile = ${dir}/pgbouncer.pid
${opts.extra ?? ''}
`
  writeFileSync(join(dir, 'pgbouncer.ini'), ini)
  writeFileSync(join(dir, 'userlist.txt'), [md5('chokepoint_admin', 'admin-secret'), md5('chokepoint_stats', 'stats-secret'), md5('app', 'app-secret')].join('\n') + '\n')
  for (const f of ['', 'pgbouncer.ini', 'userlist.txt']) chownSync(join(dir, f), uid, gid)
  chmodSync(dir, 0o755)
  // -d: daemonise and write the pidfile, so stop() has the real PgBouncer pid (not a runuser wrapper).
  execFileSync('runuser', ['-u', user, '--', BINARY, '-d', join(dir, 'pgbouncer.ini')], {stdio: 'pipe'})
  const statsUrl = `postgres://chokepoint_stats:stats-secret@127.0.0.1:${port}/pgbouncer`
  for (let i = 0; ; i++) {
    const client = new pg.Client({connectionString: statsUrl})
    client.on('error', () => {})
    try {
      await client.connect()
      await client.end()
      break
    } catch (error) {
      await client.end().catch(() => {})
      if (i > 100) throw new Error(`pgbouncer did not start on :${port}: ${(error as Error).message}\n${existsSync(join(dir, 'pgbouncer.log')) ? readFileSync(join(dir, 'pgbouncer.log'), 'utf8').slice(-2000) : ''}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const pid = Number(readFileSync(join(dir, 'pgbouncer.pid'), 'utf8').trim())
  return {
    port,
    statsUrl,
    appUrl: `postgres://app:app-secret@127.0.0.1:${port}/appdb`,
    async stop() {
      await stopProcess(pid, 5000)
      rmSync(dir, {recursive: true, force: true})
    },
  }
}
