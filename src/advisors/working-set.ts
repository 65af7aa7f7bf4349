/**
 * Low buffer-cache hit rates on a database, its tables and its indexes at once are one problem, not one per level:
 * the working set is larger than shared_buffers (or something reads far more than it needs). This advisor raises
 * that problem once per database, weighed by what the misses cost: the block read time (pg_stat_database
 * blk_read_time, counted only with track_io_timing on) over the time spent executing statements (active_time). With
 * track_io_timing off the cost is not measured; it says so and stays at most a warning.
 *
 * The finding is a cause (its rule explains database/buffer-cache-hit-rate on the same target), and itself a symptom
 * of a missing index when that index's table accounts for most of the block reads (evidence.readsByTable: the
 * `reads` match of database/missing-index), so seq scans that churn the cache are diagnosed as the index they lack.
 */
import type {Advisor, AdvisorFinding} from '../core/advisor.js'
import {classify} from '../core/engine.js'
import {percent as pct, round} from '../core/numbers.js'
import {dataOf} from '../core/readings.js'
import {SEVERITY_RANK, type Severity} from '../core/types.js'
import {formatBytes} from '../core/units.js'
import {cacheHitReading} from '../readings/postgres.js'

export const RULE_ID = 'database/working-set-exceeds-cache'
const SYMPTOM_RULE = 'database/buffer-cache-hit-rate'


export const workingSetAdvisor: Advisor = {
  id: 'working-set',
  scope: 'postgres',
  description: 'Low buffer-cache hit rates of one database as one problem, weighed by the block read time they cost',
  async advise(ctx) {
    const target = ctx.target!.name
    const data = dataOf(ctx.readings, cacheHitReading, target)
    const rules = ctx.rules(target)
    const symptomRule = rules.find((r) => r.id === SYMPTOM_RULE)
    const own = rules.find((r) => r.id === RULE_ID)
    if (!data || !symptomRule?.enabled || !own) return []
    const metrics = ctx.readings.filter((r) => r.target === target && r.probe === 'postgres.cache-hit' && r.status === 'ok')
      .flatMap((r) => r.metrics).filter((m) => m.name === 'db.cache.hit_ratio')
    // The hit rates the symptom rule flags, judged exactly as it judges them (the user's overrides included).
    const breached = metrics.map((m) => ({m, level: classify(symptomRule, m.value, m.evidence)})).filter((x) => x.level !== 'ok')
    if (breached.length === 0) return []
    const worst = breached.reduce<Severity>((w, x) => (SEVERITY_RANK[x.level as Severity] > SEVERITY_RANK[w] ? x.level as Severity : w), 'info')

    const database = data.levels[0]?.subject ?? `database of ${target}`
    const tables = data.levels.find((l) => l.subject === 'tables')
    const readsByTable = Object.fromEntries(data.worstTables.filter((t) => t.reads > 0).map((t) => [t.subject.replace(/^table /, ''), t.reads]))
    const span = data.basis === 'window' ? `over a ${data.windowSeconds} s window` : 'since the statistics were reset'
    const measured = data.trackIoTiming && data.readTimeMs !== null && data.activeTimeMs !== null && data.activeTimeMs > 0
    const share = measured ? Math.min(1, data.readTimeMs! / data.activeTimeMs!) : null
    let severity: Severity
    let cost: string
    if (share !== null) {
      const level = classify(own, share)
      severity = level === 'ok' ? 'info' : level
      cost = `reading blocks took ${Math.round(data.readTimeMs!)} ms, ${pct(share)} of the ${Math.round(data.activeTimeMs!)} ms spent in statements (${span})`
    } else {
      // Not measured: judged by the hit rates alone, and never louder than a warning for it.
      severity = SEVERITY_RANK[worst] > SEVERITY_RANK.warning ? 'warning' : worst
      cost = data.trackIoTiming
        ? 'the time spent in statements is not counted on this server version (active_time, PostgreSQL 14), so what the misses cost is not measured: judged by the hit rates alone'
        : 'track_io_timing is off, so what the misses cost is not measured: judged by the hit rates alone'
    }
    const where = breached.map((x) => x.m.subject ?? database)
    const finding: AdvisorFinding = {
      rule: RULE_ID,
      severity,
      target,
      subject: database,
      metric: 'postgres.cache.read_time_share',
      value: share === null ? null : round(share, 4),
      message: `${breached.length} buffer cache hit rate(s) outside the target ${symptomRule.target ?? ''} (${where.slice(0, 4).join(', ')}${where.length > 4 ? ', ...' : ''}) with shared_buffers ${formatBytes(data.sharedBuffersBytes)}: ${cost}`,
      evidence: {
        levels: breached.map((x) => ({subject: x.m.subject, ratio: x.m.value, severity: x.level})),
        reads: tables?.reads ?? 0,
        readsByTable,
        blocksRead: data.levels[0]?.reads ?? 0,
        sharedBuffersBytes: data.sharedBuffersBytes,
        trackIoTiming: data.trackIoTiming,
        readTimeMs: data.readTimeMs,
        activeTimeMs: data.activeTimeMs,
        basis: data.basis,
        windowSeconds: data.windowSeconds,
        diagnosisWeight: share !== null
          ? {basis: 'database-time', value: round(data.readTimeMs!), total: round(data.activeTimeMs!), unit: 'ms',
              measuredBy: `pg_stat_database: blk_read_time ${round(data.readTimeMs!)} ms of active_time ${round(data.activeTimeMs!)} ms (track_io_timing on, ${span})`}
          : {basis: 'unmeasured', value: null, total: null, unit: null, measuredBy: `not measured: ${cost}`},
      },
      remedies: [{
        kind: 'config',
        setting: 'shared_buffers',
        summary: `If the working set outgrew memory, raise shared_buffers (now ${formatBytes(data.sharedBuffersBytes)}; commonly ~25% of RAM; takes a restart) or the server's RAM; first check that no missing index makes queries read more than they need`,
      }],
    }
    if (!data.trackIoTiming) {
      finding.remedies.push({
        kind: 'config',
        setting: 'track_io_timing',
        value: 'on',
        summary: 'Turn on track_io_timing so block read time is measured and the misses are weighed by what they cost (undo: ALTER SYSTEM RESET track_io_timing)',
        sql: 'ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf();',
      })
    }
    return [finding]
  },
}
