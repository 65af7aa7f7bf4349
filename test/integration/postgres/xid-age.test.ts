import {describe, expect, it} from 'vitest'
import {requoteQualified} from '../../../src/core/sql.js'
import {XID_WRAPAROUND} from '../../../src/probes/postgres/xid-age.js'
import {adminQuery, auditTarget, readingOf, REPLICA_URL, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_xid_age'

describe('postgres.xid-age', () => {
  it('reports every database with its real age as a small ratio of 2^31, and stays quiet at default thresholds', async () => {
    await withTempDatabase(DB, async (url) => {
      await adminQuery(url, 'CREATE TABLE t (id int)')
      const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.xid-age']})
      const reading = readingOf(snapshot, 'postgres.xid-age')
      expect(reading.status).toBe('ok')
      const databases = await adminQuery(url, 'SELECT datname, age(datfrozenxid)::float8 AS age FROM pg_database')
      const byDatabase = reading.metrics.filter((m) => m.subject?.startsWith('database '))
      // Colleagues create and drop databases in parallel: ours and the templates must be there.
      for (const name of [DB, 'postgres', 'template0', 'template1']) expect(byDatabase.map((m) => m.subject)).toContain(`database ${name}`)
      const ours = byDatabase.find((m) => m.subject === `database ${DB}`)!
      const expected = databases.find((d) => d.datname === DB)!.age
      // Other sessions assign transaction IDs meanwhile, so the age moves a little between the two reads.
      expect(Math.abs((ours.evidence as {age: number}).age - expected)).toBeLessThan(10_000)
      expect(ours.value).toBeCloseTo((ours.evidence as {age: number}).age / XID_WRAPAROUND, 12)
      expect(ours.evidence).toMatchObject({database: DB, autovacuum_freeze_max_age: 200_000_000})
      for (const m of reading.metrics) expect(m.value!).toBeLessThan(0.25)

      const oldestTable = reading.metrics.find((m) => m.subject?.startsWith('table '))!
      expect(oldestTable.evidence).toMatchObject({database: DB})
      expect((reading.data as {oldestTables: unknown[]}).oldestTables.length).toBeGreaterThan(0)
      expect(report.findings.filter((f) => f.rule === 'database/xid-wraparound')).toEqual([])
    })
  })

  it('fires database/xid-wraparound on the real reading once the thresholds sit below it', async () => {
    await withTempDatabase(DB, async (url) => {
      const critical = await auditTarget(url, {onlyProbes: ['postgres.xid-age'],
        config: {rules: {'database/xid-wraparound': {target: '< 0%', action: '> 0%'}}}})
      const finding = critical.report.findings.find((f) => f.rule === 'database/xid-wraparound' && f.subject === `database ${DB}`)
      expect(finding?.severity).toBe('critical')
      expect(finding!.message).toMatch(new RegExp(`database ${DB} is .* of the way to transaction ID wraparound \\(age \\d+, autovacuum_freeze_max_age 200000000\\)`))
      expect(critical.report.gate.exitCode).toBe(1)
      // The oldest table's finding carries the VACUUM (FREEZE) remedy for that table.
      const table = critical.report.findings.find((f) => f.rule === 'database/xid-wraparound' && f.subject.startsWith('table '))!
      expect(table.remedies.some((r) => r.sql === `VACUUM (FREEZE, VERBOSE) ${requoteQualified((table.evidence as {table: string}).table)}`)).toBe(true)

      const warning = await auditTarget(url, {onlyProbes: ['postgres.xid-age'],
        config: {rules: {'database/xid-wraparound': {target: '< 0%', action: '> 100%'}}}})
      expect(warning.report.findings.find((f) => f.subject === `database ${DB}`)?.severity).toBe('warning')
    })
  })

  it('reads the same catalog on a streaming replica', async () => {
    const {snapshot} = await auditTarget(REPLICA_URL, {onlyProbes: ['postgres.xid-age']})
    const reading = readingOf(snapshot, 'postgres.xid-age')
    expect(reading.status).toBe('ok')
    expect(reading.metrics.some((m) => m.subject === 'database postgres')).toBe(true)
  })
})
