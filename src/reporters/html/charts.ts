/**
 * The HTML report's charts: what each one is drawn from (the report, and the snapshot's readings when the caller
 * has them), as inline SVG. A chart whose data is absent is not drawn: it says in one line why.
 */
import {readingsOf, readingsWhere} from '../../core/readings.js'
import type {ReporterContext} from '../../core/reporter.js'
import {formatBytes, formatValue} from '../../core/units.js'
import {isQueueData} from '../../readings/queues.js'
import {keysReading} from '../../readings/redis.js'
import {statementsReading} from '../../readings/postgres.js'
import {barChart, heatMap, type BarRow} from './svg.js'

export interface Chart {
  /** data-chart of its figure. */
  id: string
  title: string
  /** What it shows and where its numbers come from. */
  caption: string
  /** The SVG, or undefined when the data is absent (then `note` says why). */
  svg?: string
  /** Data marks drawn. */
  marks: number
  note?: string
}

/** Bars per chart at most: the rest are summed into the caption. */
export const MAX_BARS = 12

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const pct = (r: number) => (r === 0 ? '0%' : `${(r * 100).toFixed(Math.abs(r) < 0.1 ? 1 : 0)}%`)
const ms = (v: number) => formatValue(v / 1000, 'seconds')

function absent(id: string, title: string, note: string): Chart {
  return {id, title, caption: '', marks: 0, note}
}

function bars(id: string, title: string, caption: string, rows: BarRow[], opts: Parameters<typeof barChart>[1]): Chart {
  return {id, title, caption, svg: barChart(rows, opts), marks: rows.reduce((n, r) => n + r.segments.length, 0)}
}

function more(total: number, shown: number, what: string): string {
  return total > shown ? ` (${shown} of ${total} ${what} shown)` : ''
}

interface StatementTime {
  target: string
  queryid: string
  sql: string
  totalMs: number
  share: number | null
}

/** Share of database time by statement: pg_stat_statements readings; without a snapshot, the findings' evidence. */
function databaseTime({report, snapshot}: ReporterContext): Chart {
  const id = 'db-time'
  const title = 'Share of database time by statement'
  const rows: StatementTime[] = []
  let source = ''
  if (snapshot) {
    for (const {reading} of readingsOf(snapshot.readings, statementsReading)) {
      for (const m of reading.metrics) {
        const e = m.evidence ?? {}
        if (m.name !== 'db.statement.mean_seconds' || !isNum(e.totalMs)) continue
        rows.push({target: reading.target, queryid: String(e.queryid ?? m.subject ?? ''), sql: String(e.query ?? m.subject ?? ''), totalMs: e.totalMs, share: isNum(e.share) ? e.share : null})
      }
    }
    source = 'pg_stat_statements (db.statement.* readings of the snapshot)'
  }
  if (rows.length === 0) {
    // A saved report: the statements its findings name (costly and slow statements), with what they measured.
    const seen = new Set<string>()
    for (const f of report.findings) {
      const e = f.evidence
      const queryid = e.queryid === undefined ? undefined : String(e.queryid)
      if (!queryid || seen.has(`${f.target}\0${queryid}`)) continue
      const totalMs = isNum(e.totalMs) ? e.totalMs : isNum(e.calls) && isNum(e.meanMs) ? e.calls * e.meanMs : undefined
      if (totalMs === undefined) continue
      seen.add(`${f.target}\0${queryid}`)
      rows.push({target: f.target, queryid, sql: String(e.sql ?? e.query ?? f.subject), totalMs, share: isNum(e.share) ? e.share : null})
    }
    source = 'the statements the findings name (render the snapshot for every statement)'
  }
  if (rows.length === 0) return absent(id, title, 'No statement timings in this report: pg_stat_statements was not read (or no PostgreSQL target).')
  rows.sort((a, b) => b.totalMs - a.totalMs)
  const targets = new Set(rows.map((r) => r.target))
  const shown = rows.slice(0, MAX_BARS)
  const useShare = shown.every((r) => r.share !== null)
  return bars(id, title, `${useShare ? 'Share of the statement time' : 'Statement time'} of each statement, from ${source}${more(rows.length, shown.length, 'statements')}.`,
    shown.map((r) => ({
      label: `${targets.size > 1 ? `${r.target}: ` : ''}${r.sql}`,
      segments: [{value: useShare ? r.share! : r.totalMs, cls: 'm-db', title: `${r.sql}\nqueryid ${r.queryid}: ${ms(r.totalMs)}${r.share === null ? '' : `, ${pct(r.share)} of database time`}`}],
      valueText: `${r.share === null ? '' : `${pct(r.share)} · `}${ms(r.totalMs)}`,
    })), {title, max: useShare ? Math.max(...shown.map((r) => r.share!)) : undefined})
}

/** Cost before and after the proposed indexes per statement (the index advisor's what-if plans). */
function indexCost({report}: ReporterContext): Chart {
  const id = 'index-cost'
  const title = 'Index advisor: estimated cost per statement, before and after'
  const seen = new Set<string>()
  const rows: Array<{label: string; before: number; after: number}> = []
  for (const f of report.findings) {
    const e = f.evidence
    if (!isNum(e.costBefore) || !isNum(e.costAfter) || e.queryid === undefined) continue
    const key = `${f.target}\0${String(e.queryid)}`
    if (seen.has(key)) continue
    seen.add(key)
    rows.push({label: String(e.sql ?? e.query ?? f.subject), before: e.costBefore, after: e.costAfter})
  }
  if (rows.length === 0) {
    // Costs before without costs after: the advisor proposed from the statements' shape alone; say why, not "no data".
    const unverified = report.findings.find((f) => isNum(f.evidence.costBefore) && f.evidence.costAfter === null && typeof f.evidence.notVerified === 'string')
    return absent(id, title, unverified ? `The index advisor's proposals were not planned, so there is no cost after to draw: ${String(unverified.evidence.notVerified)}.`
      : 'No statement the index advisor planned with a proposed index in this report.')
  }
  rows.sort((a, b) => b.before - a.before)
  const shown = rows.slice(0, MAX_BARS)
  const chartRows: BarRow[] = []
  for (const r of shown) {
    chartRows.push({label: r.label, segments: [{value: r.before, cls: 'm-before', title: `${r.label}\nestimated cost now: ${r.before}`}], valueText: `now ${r.before}`})
    chartRows.push({label: '', segments: [{value: r.after, cls: 'm-after', title: `${r.label}\nwith the proposed index: ${r.after}`}], valueText: `after ${r.after} (−${pct(r.before > 0 ? 1 - r.after / r.before : 0)})`})
  }
  return bars(id, title, `Planner cost of each statement now and with the proposed indexes (what-if plans)${more(rows.length, shown.length, 'statements')}.`, chartRows, {title})
}

/** Storage each proposed index takes (index remedies' estimate). */
function indexSize({report}: ReporterContext): Chart {
  const id = 'index-size'
  const title = 'Index advisor: storage per proposed index'
  const byId = new Map<string, {label: string; bytes: number}>()
  for (const f of report.findings) {
    for (const r of f.remedies) {
      const size = (r.estimate as {sizeBytes?: unknown} | undefined)?.sizeBytes
      if (r.kind !== 'index' || !isNum(size) || byId.has(r.id)) continue
      byId.set(r.id, {label: r.summary, bytes: size})
    }
  }
  const rows = [...byId.values()].sort((a, b) => b.bytes - a.bytes)
  if (rows.length === 0) return absent(id, title, 'No index proposed with a size estimate in this report.')
  const shown = rows.slice(0, MAX_BARS)
  const total = rows.reduce((s, r) => s + r.bytes, 0)
  return bars(id, title, `Estimated size of each proposed index, ${formatBytes(total)} in all${more(rows.length, shown.length, 'indexes')}.`,
    shown.map((r) => ({label: r.label, segments: [{value: r.bytes, cls: 'm-size', title: `${r.label}: ${formatBytes(r.bytes)}`}], valueText: formatBytes(r.bytes)})), {title})
}

/** Redis memory by key pattern, split into keys with a TTL and keys without. */
function redisMemory({snapshot}: ReporterContext): Chart {
  const id = 'redis-memory'
  const title = 'Redis memory by key pattern, with and without TTL'
  if (!snapshot) return absent(id, title, 'The Redis key sample is in the snapshot, not the report: render the snapshot (chokepoint report SNAPSHOT --format html) to see it.')
  const samples = readingsOf(snapshot.readings, keysReading)
  const rows: Array<{label: string; withTtl: number; noTtl: number; bytes: number; noTtlShare: number; keys: number}> = []
  for (const {reading, data} of samples) {
    for (const p of data.patterns) {
      if (!isNum(p.bytes)) continue
      const noTtl = isNum(p.noTtlBytes) ? p.noTtlBytes : p.bytes * p.noTtlShare
      rows.push({label: `${samples.length > 1 ? `${reading.target}: ` : ''}${p.pattern}`, withTtl: Math.max(0, p.bytes - noTtl), noTtl, bytes: p.bytes, noTtlShare: p.noTtlShare, keys: p.keys})
    }
  }
  if (rows.length === 0) return absent(id, title, 'No Redis key sample with memory figures in this snapshot (redis.keys not read, or MEMORY USAGE not permitted).')
  rows.sort((a, b) => b.bytes - a.bytes)
  const shown = rows.slice(0, MAX_BARS)
  return bars(id, title, `Sampled memory per key pattern; the part held by keys without a TTL is marked${more(rows.length, shown.length, 'patterns')}.`,
    shown.map((r) => ({
      label: r.label,
      segments: [
        {value: r.withTtl, cls: 'm-ttl', title: `${r.label}: ${formatBytes(r.withTtl)} in keys with a TTL`},
        {value: r.noTtl, cls: 'm-nottl', title: `${r.label}: ${formatBytes(r.noTtl)} in keys without a TTL (${pct(r.noTtlShare)} of ${r.keys} sampled keys)`},
      ],
      valueText: `${formatBytes(r.bytes)} · ${pct(1 - r.noTtlShare)} TTL`,
    })), {title})
}

interface QueuePoint {
  label: string
  depth: number | null
  ageSeconds: number | null
  severity?: string
}

/** Queue depth and the oldest job's age: the queue readings, or the queue checks of a saved report. */
function queuePoints({report, snapshot}: ReporterContext): {points: QueuePoint[]; source: string} {
  const severity = new Map(report.findings.filter((f) => f.area === 'queue').map((f) => [`${f.target}\0${f.subject}`, f.severity]))
  const points: QueuePoint[] = []
  if (snapshot) {
    for (const {reading, data} of readingsWhere(snapshot.readings, isQueueData)) {
      for (const q of data.queues) {
        points.push({label: q.subject, depth: isNum(q.depth) ? q.depth : null, ageSeconds: isNum(q.oldestAgeSeconds) ? q.oldestAgeSeconds : null,
          severity: severity.get(`${reading.target}\0${q.subject}`)})
      }
    }
    if (points.length) return {points, source: 'the queue readings'}
  }
  const byQueue = new Map<string, QueuePoint>()
  for (const c of report.checks ?? []) {
    if (c.value === null || (c.rule !== 'queue/depth' && c.rule !== 'queue/latency')) continue
    const p = byQueue.get(c.subject) ?? {label: c.subject, depth: null, ageSeconds: null}
    if (c.rule === 'queue/depth') p.depth = c.value
    else p.ageSeconds = c.value
    byQueue.set(c.subject, p)
  }
  return {points: [...byQueue.values()], source: 'the queue checks'}
}

function queueCharts(ctx: ReporterContext): Chart[] {
  const {points, source} = queuePoints(ctx)
  const depthTitle = 'Queue depth per queue'
  const ageTitle = 'Age of the oldest waiting job per queue'
  if (points.length === 0) {
    const note = 'No queue was read in this report (no RabbitMQ, NATS, or queue framework on a Redis target).'
    return [absent('queue-depth', depthTitle, note), absent('queue-age', ageTitle, note)]
  }
  const cls = (p: QueuePoint) => (p.severity ? `sev-${p.severity}` : 'm-queue')
  const depth = points.filter((p) => p.depth !== null).sort((a, b) => b.depth! - a.depth!)
  const age = points.filter((p) => p.ageSeconds !== null).sort((a, b) => b.ageSeconds! - a.ageSeconds!)
  const d = depth.slice(0, MAX_BARS)
  const a = age.slice(0, MAX_BARS)
  return [
    depth.length
      ? bars('queue-depth', depthTitle, `Waiting jobs per queue, from ${source}${more(depth.length, d.length, 'queues')}; coloured by the queue's worst finding.`,
        d.map((p) => ({label: p.label, segments: [{value: p.depth!, cls: cls(p), title: `${p.label}: ${p.depth} waiting`}], valueText: `${p.depth}`})), {title: depthTitle})
      : absent('queue-depth', depthTitle, 'No queue depth was measured.'),
    age.length
      ? bars('queue-age', ageTitle, `How long the oldest waiting job has waited, from ${source}${more(age.length, a.length, 'queues')}.`,
        a.map((p) => ({label: p.label, segments: [{value: p.ageSeconds!, cls: cls(p), title: `${p.label}: oldest job waiting ${formatValue(p.ageSeconds, 'seconds')}`}], valueText: formatValue(p.ageSeconds, 'seconds')})), {title: ageTitle})
      : absent('queue-age', ageTitle, 'No queue reported the age of its oldest job.'),
  ]
}

/** Each link of the connection chain: the pool-chain advisor's budget, and every pool.utilization check. */
function poolChain({report}: ReporterContext): Chart {
  const id = 'pool-chain'
  const title = 'Connection pool chain utilisation'
  const rows: BarRow[] = []
  const cls = (u: number) => (u > 0.9 ? 'sev-critical' : u > 0.8 ? 'sev-warning' : 'm-pool')
  const link = (label: string, used: number, limit: number, what: string) => {
    const u = limit > 0 ? used / limit : 0
    rows.push({label, segments: [{value: u, cls: cls(u), title: `${label}: ${used} of ${limit} ${what} (${pct(u)})`}], valueText: `${pct(u)} (${used}/${limit})`})
  }
  for (const f of report.findings.filter((x) => x.rule === 'pool/chain-budget')) {
    const e = f.evidence
    if (isNum(e.appDemand) && isNum(e.pgbouncerPoolSize)) link(`app demand → PgBouncer pool (${f.target})`, e.appDemand, e.pgbouncerPoolSize * Math.max(1, isNum(e.pgbouncerPools) ? e.pgbouncerPools : 1), 'server connections asked for at peak')
    else if (isNum(e.appDemand) && isNum(e.usable)) link('app demand → PostgreSQL', e.appDemand, e.usable, 'usable connections asked for at peak')
    if (isNum(e.postgresUsed) && isNum(e.usable)) link(`PostgreSQL connections in use (${f.target})`, e.postgresUsed, e.usable, 'usable connections')
  }
  for (const c of report.checks ?? []) {
    if (c.rule !== 'pool/utilization' || c.value === null) continue
    rows.push({label: `${c.target}: ${c.subject}`, segments: [{value: c.value, cls: cls(c.value), title: `${c.target} ${c.subject}: ${pct(c.value)} in use (${c.status})`}], valueText: pct(c.value)})
  }
  if (rows.length === 0) return absent(id, title, 'No connection pool was measured in this report (no PgBouncer, PostgreSQL connections or app pool gauges read).')
  const shown = rows.slice(0, MAX_BARS)
  return bars(id, title, `Use of each link of the chain app → PgBouncer → PostgreSQL against its limit: the pool-chain budget at peak, and each pool's utilisation now${more(rows.length, shown.length, 'links')}.`,
    shown, {title, max: Math.max(1, ...shown.map((r) => r.segments[0].value)), reference: {value: 1, label: '100%'}})
}

const STATUS_ORDER = ['critical', 'warning', 'info', 'ok', 'not-evaluated'] as const

/** Every check as a heat map of target x area, each cell coloured by its worst status. */
function checksHeatMap({report}: ReporterContext): Chart {
  const id = 'checks-heatmap'
  const title = 'Rule checks: target × area'
  const checks = report.checks ?? []
  if (checks.length === 0) return absent(id, title, 'This report lists no checks (a version 1 report, or no rule applied).')
  const areaOf = new Map((report.rules ?? []).map((r) => [r.id, r.area as string]))
  const cells = new Map<string, Map<string, number>>()
  const targets: string[] = []
  const areas = new Set<string>()
  for (const c of checks) {
    const area = areaOf.get(c.rule) ?? c.rule.split('/')[0]
    areas.add(area)
    if (!targets.includes(c.target)) targets.push(c.target)
    const key = `${c.target}\0${area}`
    const counts = cells.get(key) ?? new Map<string, number>()
    counts.set(c.status, (counts.get(c.status) ?? 0) + 1)
    cells.set(key, counts)
  }
  const columns = [...areas].sort()
  const svg = heatMap(targets, columns, (t, a) => {
    const counts = cells.get(`${t}\0${a}`)
    if (!counts) return undefined
    const worst = STATUS_ORDER.find((s) => counts.get(s)) ?? 'ok'
    const n = [...counts.values()].reduce((s, x) => s + x, 0)
    const failing = (counts.get('critical') ?? 0) + (counts.get('warning') ?? 0) + (counts.get('info') ?? 0)
    return {cls: `st-${worst}`, text: failing ? `${failing}/${n}` : `${n}`, title: `${t} × ${a}: ${STATUS_ORDER.filter((s) => counts.get(s)).map((s) => `${counts.get(s)} ${s}`).join(', ')}`}
  }, title)
  return {id, title, caption: 'Each cell: the checks of one target in one area, coloured by the worst status; the number is findings/checks (or checks, when all passed).', svg, marks: cells.size}
}

/** Every chart, in the order the page shows them. */
export function buildCharts(ctx: ReporterContext): Chart[] {
  return [databaseTime(ctx), indexCost(ctx), indexSize(ctx), redisMemory(ctx), ...queueCharts(ctx), poolChain(ctx), checksHeatMap(ctx)]
}
