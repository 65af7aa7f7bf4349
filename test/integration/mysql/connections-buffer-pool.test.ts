// mysql.connections and mysql.buffer-pool on a private mariadbd sized to be filled (max_connections 10, an 8 MB buffer
// pool): pool/utilization fires once most slots are taken and is quiet with few; the buffer-cache rule fires on a
// scan of a table many times the pool and is quiet on the harness server's repeated small reads.
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import type mysql from 'mysql2/promise'
import {auditMysql, mariadbConnect, MARIADB_ROOT_URL, startPrivateMariadb, withMariadbDatabase, type PrivateMariadb} from '../../helpers/mariadb.js'
import {readingOf} from '../../helpers/pg.js'

let server: PrivateMariadb
beforeAll(async () => {
  server = await startPrivateMariadb({'max-connections': '10', 'innodb-buffer-pool-size': '8M', 'innodb-buffer-pool-chunk-size': '1M'})
}, 60_000)
afterAll(() => server?.destroy())

const held: mysql.Connection[] = []
afterEach(async () => {
  for (const conn of held.splice(0)) conn.destroy()
})

describe('mysql.connections', () => {
  it('is quiet with a few connections and fires pool/utilization with most of max_connections taken', async () => {
    const quiet = await auditMysql(server.url, {onlyProbes: ['mysql.connections']})
    expect(quiet.report.findings).toEqual([])
    expect(readingOf(quiet.snapshot, 'mysql.connections').data).toMatchObject({maxConnections: 10, used: 1})
    for (let i = 0; i < 8; i++) held.push(await mariadbConnect(server.url))
    const {report} = await auditMysql(server.url, {onlyProbes: ['mysql.connections']})
    const finding = report.findings.find((f) => f.rule === 'pool/utilization')
    // 8 sleeping plus the audit's own: 9 of 10.
    expect(finding).toMatchObject({subject: 'max_connections', value: 0.9, severity: 'warning'})
    expect(finding!.evidence).toMatchObject({sleeping: 8, maxConnections: 10})
    expect(finding!.remedies.map((r) => r.summary)).toEqual([expect.stringMatching(/^8 of the connections are sleeping: .*ProxySQL/)])
  })
})

describe('mysql.buffer-pool', () => {
  it('fires the buffer-cache rule on a scan of a table larger than the pool', async () => {
    const conn = await mariadbConnect(server.url)
    held.push(conn)
    await conn.query('CREATE DATABASE cp_pool; CREATE TABLE cp_pool.t (id INT PRIMARY KEY, pad CHAR(200)) ENGINE=InnoDB')
    await conn.query("INSERT INTO cp_pool.t SELECT seq, REPEAT('x', 200) FROM cp_pool.seq_1_to_150000")
    const {report, snapshot} = await auditMysql(server.url, {windowSeconds: 2, onlyProbes: ['mysql.buffer-pool'], duringWindow: async () => {
      await conn.query('SELECT COUNT(*) FROM cp_pool.t WHERE pad <> \'y\'')
    }})
    const data = readingOf(snapshot, 'mysql.buffer-pool').data as {basis: string; diskReads: number; readRequests: number}
    expect(data.basis).toBe('window')
    const finding = report.findings.find((f) => f.rule === 'database/buffer-cache-hit-rate')
    expect(finding, JSON.stringify(data)).toBeDefined()
    expect(finding!.subject).toBe('InnoDB buffer pool')
    expect(finding!.message).toMatch(/missed the database's cache, window/)
    expect(finding!.remedies.map((r) => r.summary).join('\n')).toMatch(/innodb_buffer_pool_size/)
    expect(finding!.remedies.map((r) => r.summary).join('\n')).not.toMatch(/shared_buffers/)
  }, 60_000)

  it('is quiet on repeated reads of a small table that fits the pool', async () => {
    await withMariadbDatabase('cp_pool_warm', async (db) => {
      const conn = await mariadbConnect()
      held.push(conn)
      await conn.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, v INT) ENGINE=InnoDB; INSERT INTO ${db}.t SELECT seq, seq FROM ${db}.seq_1_to_20000`)
      const {report, snapshot} = await auditMysql(MARIADB_ROOT_URL, {windowSeconds: 2, onlyProbes: ['mysql.buffer-pool'], duringWindow: async () => {
        for (let i = 0; i < 50; i++) await conn.query(`SELECT SUM(v) FROM ${db}.t`)
      }})
      const data = readingOf(snapshot, 'mysql.buffer-pool').data as {readRequests: number; hitRatio: number}
      expect(data.readRequests).toBeGreaterThan(1000)
      expect(data.hitRatio).toBeGreaterThan(0.99)
      expect(report.findings.filter((f) => f.rule === 'database/buffer-cache-hit-rate')).toEqual([])
    })
  })
})
