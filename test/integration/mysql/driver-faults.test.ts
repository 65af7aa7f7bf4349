// The mysql driver on real servers: the session is read-only with the flavour's statement limit, facts are read,
// and each fault is one line without a hang: wrong password, unknown database, nothing listening, and a server
// killed in the middle of the audit (a private mariadbd, so the harness's is never hurt). Passwords never show.
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CommandLog} from '../../../src/core/probe.js'
import {MysqlSession} from '../../../src/drivers/mysql.js'
import {auditMysql, mariadbConnect, mariadbQuery, MARIADB_ROOT_URL, withMariadbDatabase, MARIADB_PORT, MARIADB_PROBE_PASSWORD, MARIADB_URL, startPrivateMariadb, type PrivateMariadb} from '../../helpers/mariadb.js'
import {freePort} from '../../helpers/process.js'

describe('mysql driver', () => {
  it('opens a read-only session with MariaDB\'s max_statement_time and short lock waits, every query logged', async () => {
    const log = new CommandLog('t')
    const session = await MysqlSession.open(MARIADB_URL, {statementTimeoutMs: 4000, lockWaitTimeoutMs: 2000}, log)
    try {
      expect(session).toMatchObject({flavour: 'mariadb', serverId: 1, readOnly: false, isReplica: false, user: 'chokepoint'})
      const [row] = await session.query('SELECT @@session.max_statement_time AS mst, @@session.innodb_lock_wait_timeout AS ilwt, @@session.lock_wait_timeout AS lwt, @@session.tx_read_only AS ro')
      expect(row).toMatchObject({mst: 4, ilwt: '2', lwt: '2', ro: '1'})
      // The server ends a statement past the limit itself.
      await expect(session.query('SELECT SLEEP(6)')).rejects.toThrow(/max_statement_time exceeded/)
      expect(log.roundTrips).toBe(6)
      expect(log.toEntry().commands.map((c) => c.text)).toContain('SET SESSION TRANSACTION READ ONLY')
    } finally {
      await session.close()
    }
  })

  it('refuses writes even as root', async () => {
    await withMariadbDatabase('cp_driver_ro', async (db) => {
      await mariadbQuery(MARIADB_ROOT_URL, `CREATE TABLE ${db}.t (i INT) ENGINE=InnoDB`)
      const session = await MysqlSession.open(MARIADB_ROOT_URL)
      try {
        await expect(session.query(`INSERT INTO ${db}.t VALUES (1)`)).rejects.toThrow(/READ ONLY transaction/)
      } finally {
        await session.close()
      }
      expect(await mariadbQuery(MARIADB_ROOT_URL, `SELECT COUNT(*) AS n FROM ${db}.t`)).toEqual([{n: 0}])
    })
  })

  it('names the fix for a wrong password, an unknown database and a port nothing listens on, in one line without the password', async () => {
    const wrong = MARIADB_URL.replace(MARIADB_PROBE_PASSWORD, 'not-the-password')
    const port = await freePort()
    const cases: Array<[string, RegExp]> = [
      [wrong, /^MySQL refused the login for user 'chokepoint': check the user and password$/],
      [`mysql://root@127.0.0.1:${MARIADB_PORT}/no_such_db`, /^unknown database 'no_such_db': check the database name in the URL$/],
      // The harness's MariaDB has no TLS: REQUIRED must fail, never fall back to plain text.
      [`mysql://root@127.0.0.1:${MARIADB_PORT}/?ssl-mode=REQUIRED`, /^TLS failed \(.*\): check ssl-mode and ssl-ca in the URL$/],
      [`mysql://root@127.0.0.1:${port}/`, new RegExp(`^connection refused \\(127\\.0\\.0\\.1:${port}\\): is the server running and the port right\\?$`)],
    ]
    for (const [url, message] of cases) {
      const started = Date.now()
      const {report} = await auditMysql(url)
      expect(report.targets[0].status).toBe('error')
      expect(report.targets[0].error ?? '').toMatch(/^could not connect: /)
      expect((report.targets[0].error ?? '').replace(/^could not connect: /, '')).toMatch(message)
      expect(JSON.stringify(report)).not.toContain('not-the-password')
      expect(Date.now() - started).toBeLessThan(10_000)
    }
  })
})

describe('a server killed mid-audit', () => {
  let server: PrivateMariadb
  beforeAll(async () => {
    server = await startPrivateMariadb()
  }, 60_000)
  afterAll(() => server?.destroy())

  it('ends the target\'s readings with one-line errors, well within the budget', async () => {
    const conn = await mariadbConnect(server.url)
    await conn.end()
    const started = Date.now()
    const {report, snapshot} = await auditMysql(server.url, {windowSeconds: 3, duringWindow: async () => {
      await new Promise((r) => setTimeout(r, 500))
      server.kill()
    }})
    expect(Date.now() - started).toBeLessThan(20_000)
    const withBaseline = snapshot.readings.filter((r) => ['mysql.statements', 'mysql.buffer-pool', 'mysql.connections'].includes(r.probe))
    expect(withBaseline.length).toBe(3)
    for (const reading of snapshot.readings) {
      expect(reading.status, reading.probe).toBe('error')
      expect(reading.reason ?? '').not.toContain('\n')
      expect(reading.reason ?? '').toMatch(/closed the connection|connection was dropped|Connection lost|ECONNREFUSED|not read/i)
    }
    expect(report.gate.passed === false || report.findings.length >= 0).toBe(true)
  }, 60_000)
})
