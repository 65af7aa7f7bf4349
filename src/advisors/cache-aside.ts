/**
 * Cache-aside candidates: the costly read statements whose results a cache in front of PostgreSQL could serve, with
 * the key, TTL, hit rate and memory that caching them takes, ranked by the statement time it would save.
 *
 * For each read statement above the rule's cost floors (share of this database's statement time, statement time
 * per second, calls per second), from the postgres.statements reading (window deltas), the postgres.plans catalog
 * (rows, pg_stats n_distinct and avg_width) and the tables' write rates (postgres.tables window deltas, else the
 * writing statements of pg_stat_statements: src/advisors/index-advisor/write-cost.ts):
 *
 * - Key: the statement's `col = $n` parameters (libpg-query parse tree), `<table>:<col>:{$n}`, then its LIMIT and
 *   OFFSET parameters (few values). A parameter that selects a range or a set, or any other use of one, declines it.
 *   Distinct keys: pg_stats n_distinct of the key columns (negative: a fraction of the rows), else rows.
 * - Change rate λ of one cached result (Poisson writes spread evenly over rows): a result keyed by columns of table
 *   T covers 1/keys of T, so T's writes change it at writes/s / keys (a row key: writes/s / rows); a joined table
 *   without key columns changes it at writes/s x rows-per-call / rows; a result with no key (an aggregate, a whole
 *   table) changes on any write of any table it reads: writes/s. λ is the sum over the tables read.
 * - TTL t from the staleness budget s (the share of reads allowed to be stale): stale fraction ≈ λ·t/2, so
 *   t = 2s/λ, capped (ttlCapSeconds) when λ is 0 or tiny. A TTL under ttlFloorSeconds, or writes per key above
 *   maxWritesPerKeyPerSecond, declines the statement: its table changes too often for a cache.
 * - Hit rate with r = calls/s / keys reads per key per second: h = r·t / (1 + r·t). Saved statement time per second:
 *   calls/s x mean x h, its share of the database's statement time the finding's value and scaling share.
 * - Memory: the keys alive at once, keys x (1 - e^(-r·t)) (Poisson reads: a key is cached when read within its TTL),
 *   x (rows per call x row width from avg_width, else heap bytes per row, + per-key overhead).
 * - Strategy: write-through when the application's own statements write the keyed table and the TTL is moderate
 *   (the write path updates the entry, the TTL is a safety net); refresh-ahead for hot keys whose short TTL expires
 *   under many reads (refresh before expiry, no stampede of misses); cache-aside otherwise.
 *
 * Costly reads that fail a test get one info finding saying why (declined), since "why not cache it?" is the
 * question a user asks about a hot statement. Everything below the floors stays quiet. The rule file holds every
 * parameter (`heuristic:`). No query is sent: the advisor reads the snapshot only.
 */
import type {Advisor, AdvisorFinding} from '../core/advisor.js'
import {classify} from '../core/engine.js'
import {formatNumber as fmt, percent as pct, round} from '../core/numbers.js'
import {dataOf} from '../core/readings.js'
import type {CacheAsideRemedy, Proposed} from '../core/remedies.js'
import {formatBytes, formatValue} from '../core/units.js'
import type {CatalogFacts, TableFacts} from '../knowledge/postgres/catalog.js'
import {columnsOf} from '../knowledge/postgres/catalog.js'
import {ShapeExtractor, type StatementShape} from '../knowledge/postgres/parse.js'
import {describeStatement} from '../knowledge/postgres/query-text.js'
import {ensureParser} from '../knowledge/postgres/workload.js'
import {plansReading, statementSeconds, statementsReading} from '../readings/postgres.js'
import type {StatementRow} from '../readings/postgres.js'
import {statementWriteRates, writeRates, type TableWriteRate} from './index-advisor/write-cost.js'
import {parseSync} from 'libpg-query'

export const RULE_ID = 'database/cache-aside-candidate'

/** The defaults of the rule file's `heuristic:` (rules/database/cache-aside-candidate.yaml), used when it lacks one. */
export const DEFAULT_HEURISTIC = {
  minShare: 0.05,
  minMsPerSecond: 10,
  minCallsPerSecond: 1,
  minMeanMs: 1,
  stalenessBudget: 0.01,
  ttlFloorSeconds: 1,
  ttlCapSeconds: 86_400,
  maxWritesPerKeyPerSecond: 1,
  minHitRate: 0.5,
  maxResultBytes: 1_048_576,
  keyOverheadBytes: 64,
  refreshAheadReadsPerTtl: 10,
  refreshAheadMaxTtlSeconds: 300,
  writeThroughMaxTtlSeconds: 3600,
  warrantedShare: 0.3,
  warrantedMinMsPerSecond: 100,
  maxFindings: 10,
} as const
export type Heuristic = {[K in keyof typeof DEFAULT_HEURISTIC]: number}

export type Strategy = 'cache-aside' | 'write-through' | 'refresh-ahead'
type DeclineCode = 'write-heavy' | 'sparse-reads' | 'large-result' | 'unkeyable'

/** Functions whose result differs between two calls with the same arguments: such a statement has nothing to cache. */
const VOLATILE_FUNCTIONS = new Set(['random', 'nextval', 'setval', 'currval', 'lastval', 'clock_timestamp', 'timeofday', 'gen_random_uuid',
  'uuid_generate_v1', 'uuid_generate_v4', 'txid_current', 'pg_current_xact_id', 'statement_timestamp', 'pg_sleep'])

/** A locking read (FOR UPDATE/SHARE) or a volatile function anywhere in the parse tree: not a cacheable read. */
function uncacheableRead(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(uncacheableRead)
  if (!node || typeof node !== 'object') return false
  const n = node as Record<string, any>
  if (Array.isArray(n.lockingClause) && n.lockingClause.length > 0) return true
  if (n.FuncCall) {
    const parts = n.FuncCall.funcname as Array<{String?: {sval?: string}}> | undefined
    const name = parts?.[parts.length - 1]?.String?.sval
    if (name && VOLATILE_FUNCTIONS.has(name.toLowerCase())) return true
  }
  return Object.values(n).some((v) => v && typeof v === 'object' && uncacheableRead(v))
}

/** The $n of parameters under a LIMIT or OFFSET: page sizes and offsets take few values, so they may join a key. */
function pagingParams(node: unknown, out = new Set<number>(), paging = false): Set<number> {
  if (Array.isArray(node)) for (const n of node) pagingParams(n, out, paging)
  else if (node && typeof node === 'object') {
    const n = node as Record<string, any>
    if (paging && typeof n.ParamRef?.number === 'number') out.add(n.ParamRef.number)
    for (const [key, v] of Object.entries(n)) if (v && typeof v === 'object') pagingParams(v, out, paging || key === 'limitCount' || key === 'limitOffset')
  }
  return out
}

/** Distinct values of a column: pg_stats n_distinct (negative: a fraction of the rows), else every row distinct. */
function distinctValues(table: TableFacts, column: string): {values: number; basis: string} {
  const nd = table.columns.find((c) => c.name === column)?.nDistinct
  const rows = Math.max(1, table.rows)
  if (typeof nd === 'number' && nd > 0) return {values: Math.min(nd, rows), basis: `pg_stats n_distinct ${round(nd)}`}
  if (typeof nd === 'number' && nd < 0) return {values: Math.max(1, -nd * rows), basis: `pg_stats n_distinct ${round(nd, 4)} x ${Math.round(rows)} rows`}
  return {values: rows, basis: `no pg_stats: ${Math.round(rows)} rows`}
}

/** Bytes of one result row: avg_width of the columns the statement selects from each table, else heap bytes per row. */
function rowWidth(shape: StatementShape, catalog: CatalogFacts): number {
  let width = 0
  for (const [key, cols] of Object.entries(shape.selected)) {
    const table = catalog.tables[key]
    if (!table) continue
    const chosen = cols.includes('*') ? table.columns : table.columns.filter((c) => cols.includes(c.name))
    const known = chosen.every((c) => typeof c.avgWidth === 'number')
    width += known && chosen.length > 0
      ? chosen.reduce((s, c) => s + (c.avgWidth ?? 0), 0)
      : table.rows > 0 ? (table.pages * catalog.settings.blockSize) / table.rows : 0
  }
  // An aggregate selects no column: a few numbers per row.
  return Math.max(16, Math.round(width))
}

interface Assessment {
  s: StatementRow
  shape: StatementShape
  callsPerSecond: number
  msPerSecond: number
  keyPattern: string
  keyColumns: Array<{table: string; column: string; param: number}>
  keys: number
  keysBasis: string
  tables: Array<{table: string; writesPerSecond: number; coverage: number; basis: TableWriteRate['basis']; appWrites: number}>
  lambda: number
  ttlNeeded: number
  ttlSeconds: number
  readsPerKeyPerSecond: number
  hitRate: number
  rowsPerCall: number
  resultBytes: number
  memoryBytes: number
  savedMsPerSecond: number
  savedShare: number
  declined?: {code: DeclineCode; reason: string}
}

const secondsText = (t: number) => formatValue(t, 'seconds')

/** The table name a key pattern starts with: unqualified in public, schema.table elsewhere. */
const keyTableName = (t: TableFacts) => (t.schema === 'public' ? t.name : `${t.schema}.${t.name}`)

function assess(s: StatementRow, shape: StatementShape, paging: Set<number>, ctx: {catalog: CatalogFacts; seconds: number; allMsPerSecond: number; h: Heuristic;
  rateOf: (table: string) => TableWriteRate; appWritesOf: (table: string) => number}): Assessment {
  const {catalog, h} = ctx
  const callsPerSecond = s.calls / ctx.seconds
  const msPerSecond = s.totalMs / ctx.seconds
  const rowsPerCall = s.calls > 0 ? s.rows / s.calls : 0
  // `lower(email) = $1` keys by the expression; the column's statistics stand in for its distinct values.
  const eq = shape.predicates.filter((p) => p.kind === 'eq' && p.value === 'param' && typeof p.param === 'number' && catalog.tables[p.term.table])
  const keyColumns = [...new Map(eq.map((p) => [p.param!, {table: p.term.table, column: p.term.column, param: p.param!}])).values()].sort((a, b) => a.param - b.param)
  const boundParams = new Set(keyColumns.map((k) => k.param))
  const filteringParams = shape.predicates.filter((p) => p.value === 'param' && p.kind !== 'eq' && p.kind !== 'isnull')

  // Keys: the product of the key columns' distinct values per table, each table's capped at its rows.
  const keysByTable = new Map<string, number>()
  const bases: string[] = []
  for (const k of keyColumns) {
    const d = distinctValues(catalog.tables[k.table], k.column)
    keysByTable.set(k.table, Math.min(Math.max(1, catalog.tables[k.table].rows), (keysByTable.get(k.table) ?? 1) * d.values))
    bases.push(`${k.column}: ${d.basis}`)
  }
  const keys = Math.max(1, [...keysByTable.values()].reduce((p, v) => p * v, 1))
  const firstTable = catalog.tables[keyColumns[0]?.table ?? shape.tables[0]]
  const others = Array.from({length: shape.paramCount}, (_, i) => i + 1).filter((n) => !boundParams.has(n))
  const keyPattern = [keyTableName(firstTable), ...(keyColumns.length ? keyColumns.flatMap((k) => [k.column, `{$${k.param}}`]) : [`q${s.queryid}`]), ...others.map((n) => `{$${n}}`)].join(':')

  const tables = shape.tables.map((table) => {
    const rate = ctx.rateOf(table)
    const rows = Math.max(1, catalog.tables[table].rows)
    const coverage = keysByTable.has(table) ? 1 / keysByTable.get(table)! : keyColumns.length > 0 ? Math.min(1, rowsPerCall / rows) : 1
    return {table, writesPerSecond: rate.rowsPerSecond, coverage, basis: rate.basis, appWrites: ctx.appWritesOf(table)}
  })
  const lambda = tables.reduce((sum, t) => sum + t.writesPerSecond * t.coverage, 0)
  const ttlNeeded = lambda > 0 ? (2 * h.stalenessBudget) / lambda : Infinity
  const ttlSeconds = Math.max(h.ttlFloorSeconds, Math.min(h.ttlCapSeconds, ttlNeeded))
  const readsPerKeyPerSecond = callsPerSecond / keys
  const rt = readsPerKeyPerSecond * ttlSeconds
  const hitRate = rt / (1 + rt)
  const resultBytes = Math.round(Math.max(1, rowsPerCall) * rowWidth(shape, catalog))
  const liveKeys = keys * (1 - Math.exp(-rt))
  const memoryBytes = Math.round(liveKeys * (resultBytes + h.keyOverheadBytes + keyPattern.length))
  const savedMsPerSecond = msPerSecond * hitRate
  const base: Assessment = {s, shape, callsPerSecond, msPerSecond, keyPattern, keyColumns, keys, keysBasis: bases.join('; ') || 'no key: one result',
    tables, lambda, ttlNeeded, ttlSeconds, readsPerKeyPerSecond, hitRate, rowsPerCall, resultBytes, memoryBytes, savedMsPerSecond,
    savedShare: ctx.allMsPerSecond > 0 ? savedMsPerSecond / ctx.allMsPerSecond : 0}

  const busiest = [...tables].sort((a, b) => b.writesPerSecond * b.coverage - a.writesPerSecond * a.coverage)[0]
  const writesText = `${busiest.table} takes ${fmt(busiest.writesPerSecond)} row writes/s`
    + (busiest.coverage < 1 ? `, ${fmt(busiest.writesPerSecond * busiest.coverage)}/s on the rows of one ${keyColumns.length ? 'key' : 'result'}` : ' and any of them changes the result')
  // Any other parameter (compared under an OR, passed to a function ...): which calls share a result cannot be told.
  const opaque = others.filter((n) => !paging.has(n))
  if (filteringParams.length === 0 && opaque.length > 0) {
    return {...base, declined: {code: 'unkeyable', reason: `${opaque.map((n) => `$${n}`).join(', ')} ${opaque.length > 1 ? 'are' : 'is'} not compared with a column by = (nor a LIMIT or OFFSET): which calls share a result cannot be told, so no key pattern is proposed`}}
  }
  if (filteringParams.length > 0) {
    const params = [...new Set(filteringParams.map((p) => `${p.term.column} ${p.operator} $${p.param ?? 'n'}`))].join(', ')
    return {...base, declined: {code: 'unkeyable', reason: `it filters by ${params}: a parameter that selects a range or a set gives a different result for nearly every call, so no key repeats (bucket the values in the application to cache it)`}}
  }
  if (ttlNeeded < h.ttlFloorSeconds || lambda > h.maxWritesPerKeyPerSecond) {
    return {...base, declined: {code: 'write-heavy', reason: `${writesText}: keeping stale reads under ${pct(h.stalenessBudget)} would need a TTL of ${secondsText(ttlNeeded)} (2 x ${h.stalenessBudget} / λ ${fmt(lambda)}/s), under the ${secondsText(h.ttlFloorSeconds)} floor${lambda > h.maxWritesPerKeyPerSecond ? `, and each ${keyColumns.length ? 'key' : 'result'} changes ${fmt(lambda)} times a second (above ${h.maxWritesPerKeyPerSecond})` : ''}`}}
  }
  if (resultBytes > h.maxResultBytes) {
    return {...base, declined: {code: 'large-result', reason: `each result is about ${formatBytes(resultBytes)} (${fmt(rowsPerCall)} rows x ${formatBytes(resultBytes / Math.max(1, rowsPerCall))}), above the ${formatBytes(h.maxResultBytes)} a cache entry should hold`}}
  }
  if (hitRate < h.minHitRate) {
    return {...base, declined: {code: 'sparse-reads', reason: `${fmt(keys)} distinct keys (${base.keysBasis}) share ${fmt(callsPerSecond)} calls/s: each key is read every ${secondsText(1 / readsPerKeyPerSecond)}, so a ${secondsText(ttlSeconds)} TTL would hit only ${pct(hitRate)} (under ${pct(h.minHitRate)})`}}
  }
  return base
}

/** What the strategy is chosen from (exported for its unit test). */
export type StrategyInput = Pick<Assessment, 'readsPerKeyPerSecond' | 'ttlSeconds' | 'keyColumns' | 'tables' | 'lambda'>

export function strategyOf(a: StrategyInput, h: Heuristic = DEFAULT_HEURISTIC): {strategy: Strategy; why: string} {
  const reads = a.readsPerKeyPerSecond * a.ttlSeconds
  const keyed = a.keyColumns.length > 0
  const keyTable = a.tables.find((t) => t.table === a.keyColumns[0]?.table)
  if (keyed && keyTable && keyTable.appWrites > 0 && keyTable.writesPerSecond > 0 && a.ttlSeconds < h.writeThroughMaxTtlSeconds) {
    return {strategy: 'write-through', why: `the application's own statements (${keyTable.appWrites} in pg_stat_statements) write ${keyTable.table}, each key changing about every ${secondsText(1 / Math.max(a.lambda, 1e-12))}: update or delete the entry in the same code path as the write, so reads never see a stale entry and the ${secondsText(a.ttlSeconds)} TTL is only a safety net`}
  }
  if (reads >= h.refreshAheadReadsPerTtl && a.ttlSeconds <= h.refreshAheadMaxTtlSeconds) {
    return {strategy: 'refresh-ahead', why: `each key is read about ${fmt(reads)} times per ${secondsText(a.ttlSeconds)} TTL: refresh it shortly before it expires (or serve stale while one reader reloads), so an expiry does not send a burst of misses to the database`}
  }
  return {strategy: 'cache-aside', why: `read the cache first and load from the database on a miss, with the ${secondsText(a.ttlSeconds)} TTL bounding staleness: ${a.lambda > 0 ? `each ${keyed ? 'key' : 'result'} changes about every ${secondsText(1 / a.lambda)}` : 'the tables it reads were not written in the period measured'}`}
}

export const cacheAsideAdvisor: Advisor = {
  id: 'cache-aside',
  scope: 'postgres',
  description: 'Costly repeated reads a cache could serve: key pattern, TTL from the write rate, hit rate, memory',
  async advise(ctx) {
    const target = ctx.target!.name
    const own = ctx.rules(target).find((r) => r.id === RULE_ID)
    const statements = dataOf(ctx.readings, statementsReading, target)
    const plans = dataOf(ctx.readings, plansReading, target)
    if (!own?.enabled || !statements || !plans || plans.source !== 'pg_stat_statements') return []
    const h: Heuristic = {...DEFAULT_HEURISTIC, ...own.heuristic}
    const seconds = statementSeconds(statements, ctx.snapshot.capturedAt, plans.catalog.statsSeconds)
    const allMsPerSecond = statements.totalMs / seconds
    const catalog = plans.catalog
    const columns = columnsOf(catalog)
    const rateOf = writeRates(ctx.readings, plans, ctx.options)
    const appWrites = plans.writes && 'statements' in plans.writes ? statementWriteRates(plans.writes, catalog) : new Map<string, TableWriteRate>()
    const appWritesOf = (table: string) => appWrites.get(table)?.statements ?? 0
    await ensureParser()

    const assessed: Assessment[] = []
    for (const s of statements.statements) {
      if (s.calls <= 0 || s.share < h.minShare || s.totalMs / seconds < h.minMsPerSecond || s.calls / seconds < h.minCallsPerSecond || s.meanMs < h.minMeanMs) continue
      let shape: StatementShape
      let paging: Set<number>
      try {
        const tree = parseSync(s.query)
        const stmt = tree.stmts?.length === 1 ? tree.stmts[0].stmt : undefined
        if (!stmt || uncacheableRead(stmt)) continue
        shape = new ShapeExtractor(columns).extract(stmt as Record<string, any>)
        paging = pagingParams(stmt)
      } catch {
        continue
      }
      // Reads of user tables only: writes, utility statements and catalog queries (monitoring, chokepoint's own) are not cached.
      if (shape.command !== 'select' || shape.written || shape.tables.length === 0 || !shape.tables.every((t) => catalog.tables[t])) continue
      assessed.push(assess(s, shape, paging, {catalog, seconds, allMsPerSecond, h, rateOf, appWritesOf}))
    }
    const proposed = assessed.filter((a) => !a.declined).sort((a, b) => b.savedMsPerSecond - a.savedMsPerSecond)
    const declined = assessed.filter((a) => a.declined).sort((a, b) => b.msPerSecond - a.msPerSecond)
    const pathShare = proposed.reduce((sum, a) => sum + a.savedShare, 0)
    // A database that is hardly busy needs no scaling path, whatever share a cache would save of its little work.
    const busy = allMsPerSecond >= h.warrantedMinMsPerSecond
    const warranted = pathShare >= h.warrantedShare && busy
    const redis = ctx.snapshot.targets.filter((t) => t.kind === 'redis' && t.status === 'ok').map((t) => t.name)
    const span = statements.windowSeconds > 0 ? `over the ${statements.windowSeconds} s window` : 'since pg_stat_statements was reset'
    const wouldChange = warranted
      ? `A staleness budget under ${pct(h.stalenessBudget)}, more writes to these tables, or fewer repeats per key would lower the hit rates and the time saved.`
      : !busy && pathShare >= h.warrantedShare
        ? `A busier database (at least ${fmt(h.warrantedMinMsPerSecond)} ms of statement time per second, now ${fmt(allMsPerSecond)}) would call for the cache these reads could use.`
        : `Cacheable reads saving at least ${pct(h.warrantedShare)} of statement time (now ${pct(pathShare)}) would call for a cache: more repeats per key or fewer writes to the tables read.`
    const scalingOf = (decidedBy: string) => ({path: 'cache-centric', warranted, share: round(pathShare, 4), decidedBy, wouldChange})
    const pathText = `${proposed.length} cacheable statement(s) would save ${pct(pathShare)} of this database's statement time ${span} (the cache-centric path is called for from ${pct(h.warrantedShare)})`

    const findings: AdvisorFinding[] = []
    for (const a of proposed.slice(0, h.maxFindings)) {
      const {strategy, why} = strategyOf(a, h)
      const level = classify(own, a.savedShare)
      const ttl = a.lambda > 0
        ? `TTL t = 2s/λ = 2 x ${h.stalenessBudget} / ${fmt(a.lambda)} changes/s = ${secondsText(a.ttlNeeded)}, kept within ${secondsText(h.ttlFloorSeconds)}..${secondsText(h.ttlCapSeconds)} (stale reads ≈ λ·t/2 = ${pct(a.lambda * a.ttlSeconds / 2)})`
        : `TTL t = 2s/λ with λ = 0 (no write to ${a.tables.map((t) => t.table).join(', ')} in the period measured): the ${secondsText(h.ttlCapSeconds)} cap`
      const formula = `${ttl}; hit rate h = r·t/(1 + r·t) = ${pct(a.hitRate)} with r = ${fmt(a.readsPerKeyPerSecond)} reads/key/s (${fmt(a.callsPerSecond)} calls/s over ${fmt(a.keys)} keys)`
      const existing = redis.length ? ` The audit includes Redis (${redis.join(', ')}): the cache can live there.` : ''
      const remedy: Proposed<CacheAsideRemedy> = {
        kind: 'cache-aside',
        summary: `Cache statement ${a.s.queryid} under ${a.keyPattern} with a ${secondsText(a.ttlSeconds)} TTL (${strategy}): about ${pct(a.hitRate)} hits, ${fmt(a.savedMsPerSecond)} ms/s of statement time saved, ${formatBytes(a.memoryBytes)} of cache.${existing}`,
        statement: a.s.queryid,
        query: a.s.query,
        tables: a.tables.map((t) => t.table),
        keyPattern: a.keyPattern,
        ttlSeconds: Math.round(a.ttlSeconds),
        stalenessBudget: h.stalenessBudget,
        expectedHitRate: round(a.hitRate, 4),
        memoryBytes: a.memoryBytes,
        strategy,
        strategyWhy: why,
        formula,
        estimate: {savedMsPerSecond: round(a.savedMsPerSecond), savedShare: round(a.savedShare, 4), distinctKeys: Math.round(a.keys), resultBytes: a.resultBytes},
      }
      findings.push({
        rule: RULE_ID,
        severity: level === 'ok' ? 'info' : 'warning',
        target,
        subject: `statement ${a.s.queryid}`,
        metric: 'db.statement.cache_saved_share',
        value: round(a.savedShare, 4),
        message: `${describeStatement(a.s.queryid, a.s.query, {calls: a.s.calls, meanMs: a.s.meanMs, totalMs: a.s.totalMs, share: a.s.share})}: cacheable, ${a.keyPattern} TTL ${secondsText(a.ttlSeconds)}, ~${pct(a.hitRate)} hits save ${pct(a.savedShare)} of statement time`,
        evidence: {...evidenceOf(a, h), strategy, strategyWhy: why, formula, ...(redis.length ? {redisTargets: redis} : {}),
          scaling: scalingOf(`${pathText}; this one ${fmt(a.savedMsPerSecond)} ms/s (${fmt(a.callsPerSecond)} calls/s x ${fmt(a.s.meanMs)} ms x ${pct(a.hitRate)} hits).`)},
        remedies: [remedy],
      })
    }
    for (const a of declined.slice(0, h.maxFindings)) {
      findings.push({
        rule: RULE_ID,
        severity: 'info',
        target,
        subject: `statement ${a.s.queryid}`,
        metric: 'db.statement.cache_saved_share',
        value: 0,
        message: `${describeStatement(a.s.queryid, a.s.query, {calls: a.s.calls, meanMs: a.s.meanMs, totalMs: a.s.totalMs, share: a.s.share})}: not a cache candidate (${a.declined!.code}): ${a.declined!.reason}`,
        evidence: {...evidenceOf(a, h), declined: a.declined,
          scaling: scalingOf(`Statement ${a.s.queryid} (${pct(a.s.share)} of statement time) is not cacheable: ${a.declined!.reason}; ${pathText}.`)},
        remedies: [],
      })
    }
    return findings
  },
}

function evidenceOf(a: Assessment, h: Heuristic): Record<string, unknown> {
  return {
    vendor: 'postgres',
    queryid: a.s.queryid,
    query: a.s.query,
    tables: a.tables.map((t) => t.table),
    callsPerSecond: round(a.callsPerSecond),
    meanMs: round(a.s.meanMs),
    msPerSecond: round(a.msPerSecond),
    share: round(a.s.share, 4),
    rowsPerCall: round(a.rowsPerCall),
    resultBytes: a.resultBytes,
    keyPattern: a.keyPattern,
    keyColumns: a.keyColumns.map((k) => ({table: k.table, column: k.column, param: k.param})),
    distinctKeys: Math.round(a.keys),
    keysBasis: a.keysBasis,
    writes: a.tables.map((t) => ({table: t.table, writesPerSecond: round(t.writesPerSecond, 4), coverage: round(t.coverage, 8), basis: t.basis, appWriteStatements: t.appWrites})),
    changesPerSecond: round(a.lambda, 6),
    ttlNeededSeconds: a.ttlNeeded === Infinity ? null : round(a.ttlNeeded, 3),
    ttlSeconds: Math.round(a.ttlSeconds),
    stalenessBudget: h.stalenessBudget,
    readsPerKeyPerSecond: round(a.readsPerKeyPerSecond, 6),
    expectedHitRate: round(a.hitRate, 4),
    memoryBytes: a.memoryBytes,
    savedMsPerSecond: round(a.savedMsPerSecond),
    savedShare: round(a.savedShare, 4),
  }
}
