import {describe, expect, it} from 'vitest'
import {countersOf, digestKey, statementMetrics, windowDeltas} from '../../../src/probes/mysql/statements.js'

// Rows as mysql2 returns them from performance_schema.events_statements_summary_by_digest (BIGINT UNSIGNED as strings).
const row = (d: string, c: number, t: string, extra: Record<string, string> = {}) => ({s: 'shop', d, c: String(c), t, re: '0', rs: '0', ra: '0', ni: '0', ng: '0', td: '0', tt: '0', fs: '0', ...extra})

describe('mysql.statements deltas', () => {
  it('ranks digests by the time spent in the window, not since they were first seen', () => {
    const before = [row('old', 1000, '900000000000000'), row('new', 10, '1000000000')]
    const after = [row('old', 1001, '900000100000000'), row('new', 60, '60001000000000')]
    const baseline = Object.fromEntries(before.map((r) => [digestKey(r.s, r.d), countersOf(r)]))
    const top = windowDeltas(after, baseline, 10)
    expect(top.map((d) => [d.digest, d.calls, d.timerPs])).toEqual([['new', 50, 60_000_000_000_000], ['old', 1, 100_000_000]])
  })

  it('takes a digest missing from the baseline, or one whose calls went down (evicted, recreated), as new in the window', () => {
    const baseline = {[digestKey('shop', 'x')]: countersOf(row('x', 500, '500'))}
    expect(windowDeltas([row('x', 20, '20'), row('y', 3, '3')], baseline, 10).map((d) => [d.digest, d.calls])).toEqual([['x', 20], ['y', 3]])
  })

  it('turns picoseconds into seconds and shares into the three metrics per digest', () => {
    const metrics = statementMetrics([{schema: 'shop', digest: 'abc', query: 'SELECT * FROM `t` WHERE `a` = ?', calls: 20, timerPs: 4e12, rowsExamined: 200_000,
      rowsSent: 20, rowsAffected: 0, noIndexUsed: 20, noGoodIndexUsed: 0, tmpDiskTables: 5, tmpTables: 10, fullScans: 20, totalMs: 4000, meanMs: 200, maxMs: 900, share: 0.8}], 5)
    expect(metrics.map((m) => [m.name, m.value])).toEqual([['db.statement.mean_seconds', 0.2], ['mysql.statement.full_scan_share', 1], ['mysql.statement.tmp_disk_share', 0.25]])
    expect(metrics[0]).toMatchObject({subject: 'digest abc', evidence: {queryid: 'abc', calls: 20, rowsExaminedPerCall: 10_000, share: 0.8, windowSeconds: 5}})
  })
})
