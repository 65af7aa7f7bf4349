// mysql.replication against the harness's GTID replica: quiet when caught up; lag planted by stopping the replica's
// SQL thread while the source writes (replica-stopped fires: the server reports no lag then), then, once started
// again, by a row lock on the replica that the replicated update waits behind (replication/lag fires past 5 s); and
// the source sees the replica reading its binlog.
import {afterEach, describe, expect, it} from 'vitest'
import type mysql from 'mysql2/promise'
import {auditMysql, mariadbConnect, mariadbQuery, MARIADB_REPLICA_ROOT_URL, MARIADB_ROOT_URL, MARIADB_REPLICA_URL, MARIADB_URL, waitFor, waitReplicaCaughtUp, withMariadbDatabase} from '../../helpers/mariadb.js'
import {readingOf} from '../../helpers/pg.js'

const held: mysql.Connection[] = []
afterEach(async () => {
  for (const conn of held.splice(0)) conn.destroy()
  // Whatever a failed test left, the replica replicates again for the next one.
  await mariadbQuery(MARIADB_REPLICA_ROOT_URL, 'START SLAVE').catch(() => {})
})

const replicationFindings = async () => {
  const {report, snapshot} = await auditMysql(MARIADB_REPLICA_URL, {onlyProbes: ['mysql.replication']})
  return {findings: report.findings.filter((f) => f.area === 'replication'), snapshot}
}

describe('mysql.replication', () => {
  it('is quiet on a replica that is caught up, and the source lists it', async () => {
    await waitReplicaCaughtUp()
    const {findings, snapshot} = await replicationFindings()
    expect(findings).toEqual([])
    const data = readingOf(snapshot, 'mysql.replication').data as {role: string; channels: Array<{ioRunning: boolean; sqlRunning: boolean; lagSeconds: number}>}
    expect(data.role).toBe('replica')
    expect(data.channels).toMatchObject([{ioRunning: true, sqlRunning: true, lagSeconds: 0}])
    const {snapshot: source} = await auditMysql(MARIADB_URL, {onlyProbes: ['mysql.replication']})
    const sourceData = readingOf(source, 'mysql.replication').data as {role: string; connectedReplicas: Array<{host: string}>}
    expect(sourceData.role).toBe('primary')
    expect(sourceData.connectedReplicas.map((r) => r.host)).toEqual([expect.stringMatching(/^127\.0\.0\.1:/)])
    expect(source.targets[0].facts).toMatchObject({flavour: 'mariadb', role: 'primary', serverId: 1})
  })

  it('a stopped SQL thread fires replica-stopped; a replicated write stuck behind a lock fires replication/lag past 5 s', async () => {
    await withMariadbDatabase('cp_replication', async (db) => {
      await mariadbQuery(MARIADB_ROOT_URL, `CREATE TABLE ${db}.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB; INSERT INTO ${db}.t VALUES (1, 0)`)
      await waitReplicaCaughtUp()
      await mariadbQuery(MARIADB_REPLICA_ROOT_URL, 'STOP SLAVE SQL_THREAD')
      await mariadbQuery(MARIADB_ROOT_URL, `UPDATE ${db}.t SET v = 1 WHERE id = 1`)
      const stopped = await replicationFindings()
      expect(stopped.findings.map((f) => [f.rule, f.severity, f.message])).toEqual([
        ['replication/replica-stopped', 'critical', 'replica of 127.0.0.1:25306: the SQL thread not running'],
      ])
      expect(stopped.findings[0].remedies.map((r) => r.sql)).toEqual(['START SLAVE'])

      // A session on the replica holds the row the replicated UPDATE needs: the SQL thread runs but cannot apply it.
      const locker = await mariadbConnect(MARIADB_REPLICA_ROOT_URL)
      held.push(locker)
      await locker.query(`START TRANSACTION; SELECT * FROM ${db}.t WHERE id = 1 FOR UPDATE`)
      await mariadbQuery(MARIADB_REPLICA_ROOT_URL, 'START SLAVE SQL_THREAD')
      let lag: Awaited<ReturnType<typeof replicationFindings>>['findings'] = []
      await waitFor(async () => {
        lag = (await replicationFindings()).findings
        return lag.some((f) => f.rule === 'replication/lag' && f.severity === 'critical')
      }, 'replication/lag to fire', 30_000)
      const finding = lag.find((f) => f.rule === 'replication/lag')!
      expect(finding.value).toBeGreaterThan(5)
      expect(finding.evidence).toMatchObject({vendor: 'mysql', sqlRunning: 1, ioRunning: 1})
      expect(JSON.stringify(finding.remedies)).not.toMatch(/pg_wal|standby/)
      await locker.query('ROLLBACK')
      await waitReplicaCaughtUp()
      await waitFor(async () => (await replicationFindings()).findings.length === 0, 'the lag findings to go')
    })
  }, 60_000)
})
