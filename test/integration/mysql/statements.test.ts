// mysql.statements against the harness's MariaDB (performance_schema ON): digest deltas over the window, the shared
// slow-statement rule and the MySQL-only full-scan and temp-tables-on-disk rules, firing on planted statements and
// quiet on cheap ones; and the skip, with its fix, on the machine's own MariaDB (performance_schema OFF).
import {describe, expect, it} from 'vitest'
import {auditMysql, mariadbConnect, MARIADB_URL, SYSTEM_MARIADB_URL, withMariadbDatabase} from '../../helpers/mariadb.js'
import {readingOf} from '../../helpers/pg.js'

describe('mysql.statements', () => {
  it('fires slow-statement, full-scan and temp-tables-on-disk on planted statements, and stays quiet on an indexed lookup', async () => {
    await withMariadbDatabase('cp_statements', async (db) => {
      const conn = await mariadbConnect()
      try {
        await conn.query(`CREATE TABLE ${db}.big (id INT PRIMARY KEY, k INT, note TEXT) ENGINE=InnoDB`)
        await conn.query(`INSERT INTO ${db}.big SELECT seq, seq % 500, CONCAT('n', seq % 97) FROM ${db}.seq_1_to_5000`)
        const {report, snapshot} = await auditMysql(MARIADB_URL, {windowSeconds: 5, onlyProbes: ['mysql.statements'], duringWindow: async () => {
          for (let i = 0; i < 12; i++) {
            await conn.query(`SELECT SLEEP(0.12), ${i} AS slow_marker FROM ${db}.big WHERE id = 1`)
            await conn.query(`SELECT COUNT(*) FROM ${db}.big WHERE k = ${i}`)
            await conn.query(`SELECT note, COUNT(*) FROM ${db}.big GROUP BY note ORDER BY note`)
            await conn.query(`SELECT k FROM ${db}.big WHERE id = ${i + 1}`)
          }
        }})
        const reading = readingOf(snapshot, 'mysql.statements')
        expect(reading.status).toBe('ok')
        const findings = (rule: string) => report.findings.filter((f) => f.rule === rule && String(f.evidence.query).includes('big'))
        const slow = findings('database/slow-statement')
        expect(slow.map((f) => f.evidence.query)).toEqual([expect.stringMatching(/SLEEP/)])
        expect(slow[0].evidence, JSON.stringify(slow[0].evidence)).toMatchObject({vendor: 'mysql', calls: 12})
        expect(slow[0].value).toBeGreaterThan(0.1)
        // The window's calls, not those since the digest was first seen.
        expect(slow[0].remedies.map((r) => r.summary).join(' ')).toMatch(/^EXPLAIN the statement of digest/)
        const scans = findings('database/full-scan-statement')
        expect(scans.map((f) => f.evidence.query).sort()).toEqual([expect.stringMatching(/COUNT \( \* \) FROM .*big.* WHERE `?k`? = \?/i), expect.stringMatching(/GROUP BY/)].sort())
        expect(scans.every((f) => f.evidence.calls === 12 && Number(f.evidence.rowsExaminedPerCall) >= 5000)).toBe(true)
        const disk = findings('database/temp-tables-on-disk')
        expect(disk.map((f) => f.evidence.query)).toEqual([expect.stringMatching(/GROUP BY/)])
        // The primary-key lookup: a digest in the reading, no finding of any rule.
        const lookup = (reading.data as {statements: Array<{query: string; calls: number}>}).statements.find((s) => /SELECT `?k`? FROM .*big.* WHERE `?id`? = \?/i.test(s.query))
        expect(lookup?.calls, JSON.stringify((reading.data as {statements: Array<{query: string}>}).statements.map((s) => s.query))).toBe(12)
        expect(report.findings.filter((f) => /SELECT `?k`? FROM .*big.* WHERE `?id`?/i.test(String(f.evidence.query)))).toEqual([])
        // chokepoint's own reads (information_schema, performance_schema, SHOW) are not the workload: a window-0
        // audit since the server started holds hundreds of them, and they build temporary tables on disk.
        const all = await auditMysql(MARIADB_URL, {windowSeconds: 0, onlyProbes: ['mysql.statements', 'mysql.sessions', 'mysql.replication']})
        const texts = (readingOf(all.snapshot, 'mysql.statements').data as {statements: Array<{query: string}>}).statements.map((s) => s.query)
        expect(texts.filter((q) => /information_schema|performance_schema|^SHOW /i.test(q))).toEqual([])
      } finally {
        await conn.end()
      }
    })
  })

  it('is skipped with the fix on a server with performance_schema OFF', async () => {
    const {report, snapshot} = await auditMysql(SYSTEM_MARIADB_URL, {windowSeconds: 0, onlyProbes: ['mysql.statements']})
    const reading = readingOf(snapshot, 'mysql.statements')
    expect(reading.status).toBe('skipped')
    expect(reading.reason).toBe('mysql.statements: performance_schema is OFF: set performance_schema=ON in the server config and restart')
    expect(report.skipped.map((s) => s.reason)).toContain(reading.reason)
  })
})
