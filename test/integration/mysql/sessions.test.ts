// mysql.sessions against the harness's MariaDB: a long-running statement, a session idle in its transaction and a
// lock wait, each planted, each firing the shared rule (thresholds lowered by config so the test does not wait 30 s),
// and quiet once the planted session is gone.
import {afterEach, describe, expect, it} from 'vitest'
import type mysql from 'mysql2/promise'
import {auditMysql, mariadbConnect, MARIADB_URL, waitFor, withMariadbDatabase} from '../../helpers/mariadb.js'
import {readingOf} from '../../helpers/pg.js'

const held: mysql.Connection[] = []
async function hold(): Promise<{conn: mysql.Connection; id: number}> {
  const conn = await mariadbConnect()
  held.push(conn)
  return {conn, id: conn.threadId!}
}
afterEach(async () => {
  for (const conn of held.splice(0)) conn.destroy()
})

const config = {rules: {
  'database/long-running-query': {target: '< 1s', action: '> 1h'},
  'database/idle-in-transaction': {target: '< 1s', action: '> 1h'},
  'database/blocked-sessions': {target: '< 1s', action: '> 1h'},
}}

describe('mysql.sessions', () => {
  it('a running statement fires database/long-running-query with KILL QUERY for its thread, and the finding goes with it', async () => {
    const {conn, id} = await hold()
    const running = conn.query('SELECT SLEEP(30)').catch(() => {})
    await new Promise((r) => setTimeout(r, 1500))
    const {report, snapshot} = await auditMysql(MARIADB_URL, {config, onlyProbes: ['mysql.sessions']})
    const finding = report.findings.find((f) => f.rule === 'database/long-running-query' && f.subject === `thread ${id}`)
    expect(finding, JSON.stringify(readingOf(snapshot, 'mysql.sessions').data)).toBeDefined()
    expect(finding!.severity).toBe('warning')
    expect(finding!.value).toBeGreaterThanOrEqual(1)
    // The server's normalised text (literals as ?), never the raw processlist INFO.
    expect(finding!.evidence.query).toMatch(/SLEEP\s*\(\s*\?\s*\)/i)
    expect(finding!.remedies.map((r) => r.sql).filter(Boolean)).toEqual([`KILL QUERY ${id}`])
    // No PostgreSQL SQL on a MySQL finding.
    expect(JSON.stringify(finding!.remedies)).not.toMatch(/pg_|ALTER ROLE/)
    conn.destroy()
    await running
    await waitFor(async () => {
      const {report: after} = await auditMysql(MARIADB_URL, {config, onlyProbes: ['mysql.sessions']})
      return !after.findings.some((f) => f.subject === `thread ${id}`)
    }, 'the long-running finding to go')
  })

  it('a transaction left open fires database/idle-in-transaction with its user, database and last statement', async () => {
    await withMariadbDatabase('cp_sessions_idle', async (db) => {
      const {conn, id} = await hold()
      await conn.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB; INSERT INTO ${db}.t VALUES (1, 1)`)
      await conn.query(`START TRANSACTION; UPDATE ${db}.t SET v = 2 WHERE id = 1`)
      await new Promise((r) => setTimeout(r, 1500))
      const {report} = await auditMysql(MARIADB_URL, {config, onlyProbes: ['mysql.sessions']})
      const finding = report.findings.find((f) => f.rule === 'database/idle-in-transaction' && f.subject === `thread ${id}`)
      expect(finding).toBeDefined()
      expect(finding!.evidence).toMatchObject({vendor: 'mysql', usename: 'root', thread: id, rowsModified: 1})
      expect(finding!.message).toContain('root@')
      expect(finding!.remedies.map((r) => r.sql).filter(Boolean)).toEqual([`KILL ${id}`])
      await conn.query('COMMIT')
      // INNODB_TRX is served from a cache InnoDB refreshes at most every 0.1 s: wait for the state, not a time.
      await waitFor(async () => {
        const {report: after} = await auditMysql(MARIADB_URL, {config, onlyProbes: ['mysql.sessions']})
        return !after.findings.some((f) => f.subject === `thread ${id}`)
      }, 'the idle-in-transaction finding to go')
    })
  })

  it('a lock wait fires database/blocked-sessions on the blocker at the head, naming the session behind it', async () => {
    await withMariadbDatabase('cp_sessions_lock', async (db) => {
      const blocker = await hold()
      const waiter = await hold()
      await blocker.conn.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB; INSERT INTO ${db}.t VALUES (1, 1)`)
      await blocker.conn.query(`START TRANSACTION; UPDATE ${db}.t SET v = 2 WHERE id = 1`)
      await waiter.conn.query('SET SESSION innodb_lock_wait_timeout = 30')
      const waiting = waiter.conn.query(`UPDATE ${db}.t SET v = 3 WHERE id = 1`).catch(() => {})
      await new Promise((r) => setTimeout(r, 1500))
      const {report} = await auditMysql(MARIADB_URL, {config, onlyProbes: ['mysql.sessions']})
      const finding = report.findings.find((f) => f.rule === 'database/blocked-sessions' && f.subject === `thread ${blocker.id}`)
      expect(finding).toBeDefined()
      expect(finding!.evidence).toMatchObject({blockedPids: [waiter.id], blockedCount: 1, blockerActive: 0})
      expect(finding!.value).toBeGreaterThanOrEqual(1)
      // Idle in its transaction: nothing to cancel, only the session to end.
      expect(finding!.remedies.map((r) => r.sql).filter(Boolean)).toEqual([`KILL ${blocker.id}`])
      // The waiter's own long statement is explained by the blocker (docs/design.md section 5).
      const waiterFinding = report.findings.find((f) => f.rule === 'database/long-running-query' && f.subject === `thread ${waiter.id}`)
      expect(waiterFinding?.causeId).toBe(finding!.id)
      await blocker.conn.query('ROLLBACK')
      await waiting
      await waitFor(async () => {
        const {report: after} = await auditMysql(MARIADB_URL, {config, onlyProbes: ['mysql.sessions']})
        return !after.findings.some((f) => f.rule === 'database/blocked-sessions' && f.subject === `thread ${blocker.id}`)
      }, 'the blocked-sessions finding to go')
    })
  })
})
