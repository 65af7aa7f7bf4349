import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgBouncerSession} from '../../drivers/pgbouncer.js'
import {isAdminPool, n} from './pools.js'

interface DbCounters {
  xacts: number
  queries: number
  waitMicros: number
  xactMicros: number
  queryMicros: number
  avgWaitMicros: number
  avgXactMicros: number
  avgQueryMicros: number
}

async function readStats(session: PgBouncerSession): Promise<Map<string, DbCounters>> {
  const rows = await session.show('STATS')
  return new Map(rows.filter((r) => !isAdminPool(r.database)).map((r) => [String(r.database), {
    xacts: n(r.total_xact_count),
    queries: n(r.total_query_count),
    waitMicros: n(r.total_wait_time),
    xactMicros: n(r.total_xact_time),
    queryMicros: n(r.total_query_time),
    avgWaitMicros: n(r.avg_wait_time),
    avgXactMicros: n(r.avg_xact_time),
    avgQueryMicros: n(r.avg_query_time),
  }]))
}

/**
 * SHOW STATS per database: how long clients waited for a server, per transaction, beside the transaction time.
 * With --window the totals are read twice and differenced (the wait of this window); without it PgBouncer's own
 * averages over its last stats_period (60 s by default) are used. All PgBouncer times are microseconds.
 */
export const statsProbe: Probe<PgBouncerSession> = {
  id: 'pgbouncer.stats',
  kind: 'pgbouncer',
  description: 'SHOW STATS: average client wait for a server connection per transaction, beside transaction and query time',
  baseline: (session) => readStats(session),
  async collect(session, _ctx, baseline): Promise<ProbeOutput> {
    const now = await readStats(session)
    const before = baseline as Map<string, DbCounters> | undefined
    const metrics: Metric[] = []
    const databases = []
    for (const [database, c] of now) {
      const b = before?.get(database)
      const xacts = b ? c.xacts - b.xacts : null
      const avgWait = b ? (xacts! > 0 ? (c.waitMicros - b.waitMicros) / xacts! / 1e6 : 0) : c.avgWaitMicros / 1e6
      const avgXact = b ? (xacts! > 0 ? (c.xactMicros - b.xactMicros) / xacts! / 1e6 : 0) : c.avgXactMicros / 1e6
      const row = {database, source: b ? 'window delta' : 'PgBouncer stats_period average', transactions: xacts ?? c.xacts,
        avgWaitSeconds: avgWait, avgTransactionSeconds: avgXact, avgQuerySeconds: c.avgQueryMicros / 1e6}
      databases.push(row)
      metrics.push({name: 'pool.avg_wait_seconds', subject: `pgbouncer ${database}`, value: avgWait, evidence: row})
    }
    return {data: {databases}, metrics}
  },
}
