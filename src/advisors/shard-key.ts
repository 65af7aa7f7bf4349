/**
 * The shard-key advisor: which column each of the largest tables would be distributed by (Citus), which tables go
 * with it (co-located on the same key through foreign keys and join predicates) and which are copied to every node
 * (reference tables: small and widely joined), what must change first (primary and unique keys, foreign keys that
 * lack the column) and which statements would fan out to every shard. The thresholds are the rule's `when`
 * conditions (rules/database/shard-key.yaml), so a user overrides them like any other.
 *
 * It speaks only when the numbers say the workload outgrows one node (writes carry most of the statement time, the
 * node is saturated, a good key exists), or when the user asks for a plan (--shard-plan N, the target option
 * shardPlan): then it always shows the plan and says plainly whether sharding is warranted yet, and why.
 *
 * Work is O(statements + tables): each statement of postgres.statements is parsed once (libpg-query), and no query is
 * sent: the probe (postgres.column-stats) read the statistics and the hash samples.
 */
import {parseSync} from 'libpg-query'
import type {Advisor, AdvisorFinding} from '../core/advisor.js'
import {percent as pct, round} from '../core/numbers.js'
import {dataOf} from '../core/readings.js'
import type {ProposedRemedy, ShardKeyRemedy, Proposed} from '../core/remedies.js'
import type {EffectiveRule} from '../core/rules.js'
import {quoteIdent, quoteLiteral, quoteQualified} from '../core/sql.js'
import {compare, type Comparison} from '../core/threshold.js'
import {columnsOf} from '../knowledge/postgres/catalog.js'
import {ShapeExtractor, type CatalogColumns, type ColumnTerm, type StatementShape} from '../knowledge/postgres/parse.js'
import {clip} from '../knowledge/postgres/query-text.js'
import {ensureParser} from '../knowledge/postgres/workload.js'
import {serverCpu} from '../readings/prometheus.js'
import {cacheHitReading, columnStatsReading, plansReading, statementsReading, type ColumnStats, type ShardTable} from '../readings/postgres.js'

export const RULE_ID = 'database/shard-key'
/** Statements listed per remedy as becoming multi-shard, the costliest first. */
const MAX_LISTED_STATEMENTS = 10
/** Candidates kept per table in the evidence, the best first. */
const MAX_LISTED_CANDIDATES = 6
const TIME_TYPE = /^(timestamp|date|time)\b/

const termKey = (table: string, column: string) => `${table}\u0000${column}`

/** The rule's thresholds by name; a missing one holds (the user removed it). */
function thresholds(rule: EffectiveRule): (name: string, value: number | null) => boolean | null {
  const byName = new Map<string, Comparison>(rule.whenCmp.map((w) => [w.path, w.cmp]))
  return (name, value) => {
    const cmp = byName.get(name)
    if (!cmp) return true
    return value === null || !Number.isFinite(value) ? null : compare(value, cmp)
  }
}

/** A condition of the rule as a person reads it: a share as a percent (">= 0.5" -> ">= 50%"), a multiple as written. */
function thresholdText(rule: EffectiveRule, name: string, share = name !== 'sharedBuffersMultiple'): string {
  // The rule's conditions are parsed once when it loads (whenCmp): read them there, not again from their text.
  const cmp = rule.whenCmp.find((w) => w.path === name)?.cmp
  if (!cmp) return 'n/a'
  return share ? `${cmp.op} ${pct(cmp.value)}` : cmp.text
}

/** One statement of the window as routing sees it. */
interface WorkloadStatement {
  queryid: string
  query: string
  totalMs: number
  write: boolean
  tables: string[]
  /** table|column terms the statement fixes to one value: `col = $n` (or a constant), a one-row INSERT's columns, and what joins equate to them. */
  pinned: Set<string>
  /** table|column terms it filters by a range (<, BETWEEN ...). */
  ranged: Set<string>
  joins: Array<[string, string]>
}

/** The columns a one-row INSERT ... VALUES gives: the row's key is known, so Citus routes it to one shard. */
function insertedColumns(stmt: Record<string, any>): string[] {
  const insert = stmt.InsertStmt
  const rows = insert?.selectStmt?.SelectStmt?.valuesLists
  if (!insert || !Array.isArray(rows) || rows.length !== 1) return []
  return (insert.cols ?? []).map((c: Record<string, any>) => c.ResTarget?.name).filter((n: unknown): n is string => typeof n === 'string')
}

/** Union-find over table|column terms. */
class Classes {
  private readonly parent = new Map<string, string>()
  find(x: string): string {
    let root = x
    while (this.parent.has(root) && this.parent.get(root) !== root) root = this.parent.get(root)!
    // Path compression: every term on the way points at the root, so a long chain of foreign keys stays cheap.
    for (let at = x; at !== root;) {
      const next = this.parent.get(at)!
      this.parent.set(at, root)
      at = next
    }
    return root
  }
  union(a: string, b: string): void {
    const ra = this.find(a)
    const rb = this.find(b)
    if (ra !== rb) this.parent.set(ra, rb)
  }
}

function workloadOf(statements: Array<{queryid: string; query: string; totalMs: number}>, catalog: CatalogColumns, known: Set<string>): WorkloadStatement[] {
  const out: WorkloadStatement[] = []
  for (const s of statements) {
    let shape: StatementShape
    let stmt: Record<string, any> | undefined
    try {
      // Parsed once: the shape and the INSERT's column list come from the same tree.
      stmt = parseSync(s.query).stmts?.[0]?.stmt as Record<string, any> | undefined
      if (!stmt) continue
      shape = new ShapeExtractor(catalog).extract(stmt)
    } catch {
      continue
    }
    const tables = shape.tables.filter((t) => known.has(t))
    if (tables.length === 0) continue
    const pinned = new Set<string>()
    const ranged = new Set<string>()
    const term = (t: ColumnTerm) => termKey(t.table, t.column)
    for (const p of shape.predicates) {
      if (p.term.expression) continue
      if (p.kind === 'eq' && (p.value === 'param' || p.value === 'constant')) pinned.add(term(p.term))
      else if (p.kind === 'range') ranged.add(term(p.term))
    }
    if (shape.command === 'insert' && shape.written) for (const c of insertedColumns(stmt)) pinned.add(termKey(shape.written, c))
    const joins = shape.joins.map((j): [string, string] => [term(j.left), term(j.right)])
    // An equality join carries a pinned value to the other side: o.tenant_id = $1 AND oi.tenant_id = o.tenant_id.
    const classes = new Classes()
    for (const [a, b] of joins) classes.union(a, b)
    const pinnedRoots = new Set([...pinned].map((p) => classes.find(p)))
    for (const [a, b] of joins) for (const x of [a, b]) if (pinnedRoots.has(classes.find(x))) pinned.add(x)
    out.push({queryid: s.queryid, query: s.query, totalMs: s.totalMs, write: shape.command !== 'select' && shape.command !== 'other', tables, pinned, ranged, joins})
  }
  return out
}

interface Candidate {
  column: string
  type: string
  distinct: number | null
  distinctPerShard: number | null
  maxCommonFreq: number | null
  absCorrelation: number | null
  nullFrac: number | null
  routingCoverage: number | null
  /** Statement time over the table that filters on the column (ms). */
  routedMs: number
  /** The sampled hash simulation: the largest shard's rows over the mean. */
  sampledMaxOverMean: number | null
  sampledRows: number | null
  monotonic: boolean
  rejected: string[]
  notes: string[]
}

function distinctOf(c: ColumnStats, rows: number): number | null {
  if (c.nDistinct === null) return null
  return c.nDistinct < 0 ? Math.round(-c.nDistinct * rows) : c.nDistinct
}

function scoreColumn(table: ShardTable, c: ColumnStats, shards: number, samplesValid: boolean, overTable: WorkloadStatement[], tableMs: number,
  holds: ReturnType<typeof thresholds>, rule: EffectiveRule): Candidate {
  const distinct = distinctOf(c, table.rows)
  const key = termKey(table.key, c.name)
  const routedMs = overTable.filter((s) => s.pinned.has(key)).reduce((a, s) => a + s.totalMs, 0)
  const rangedMs = overTable.filter((s) => s.ranged.has(key)).reduce((a, s) => a + s.totalMs, 0)
  const routingCoverage = tableMs > 0 ? routedMs / tableMs : null
  const sample = samplesValid ? table.samples?.find((s) => s.column === c.name) : undefined
  const nonNull = sample ? sample.rows - sample.nulls : 0
  const sampledMaxOverMean = sample && nonNull > 0 ? Math.max(...sample.shardRows) / (nonNull / shards) : null
  const absCorrelation = c.correlation === null ? null : Math.abs(c.correlation)
  const cand: Candidate = {
    column: c.name, type: c.type, distinct, distinctPerShard: distinct === null ? null : distinct / shards, maxCommonFreq: c.maxCommonFreq,
    absCorrelation, nullFrac: c.nullFrac, routingCoverage: routingCoverage === null ? null : round(routingCoverage, 4), routedMs: round(routedMs, 3),
    sampledMaxOverMean: sampledMaxOverMean === null ? null : round(sampledMaxOverMean, 3), sampledRows: sample ? sample.rows : null,
    monotonic: holds('absCorrelation', absCorrelation) === false, rejected: [], notes: [],
  }
  if (distinct === null) cand.rejected.push('never analysed: no pg_stats (run ANALYZE)')
  else if (holds('distinctPerShard', distinct / shards) === false) {
    cand.rejected.push(`too few distinct values: ${distinct} for ${shards} shards (needs ${thresholdText(rule, 'distinctPerShard')} per shard)`)
  }
  if (holds('maxCommonFreqTimesShards', (c.maxCommonFreq ?? 0) * shards) === false) {
    cand.rejected.push(`skewed: its most common value holds ${pct(c.maxCommonFreq)} of the rows, more than a shard's share (1/${shards})`)
  }
  if (holds('nullFrac', c.nullFrac ?? 0) === false) cand.rejected.push(`${pct(c.nullFrac)} of its rows are NULL: they cannot be placed on a shard`)
  if (sampledMaxOverMean !== null && holds('sampledMaxOverMean', sampledMaxOverMean) === false) {
    cand.rejected.push(`the sampled hash simulation puts ${round(sampledMaxOverMean, 2)}x the mean on the largest shard (${sample!.rows} rows sampled)`)
  }
  if (cand.monotonic) {
    if (TIME_TYPE.test(c.type) || rangedMs > 0) {
      cand.rejected.push(`monotonic (correlation ${round(c.correlation!, 2)}): ranges would put every insert on the last shard, and a hash cannot route the range filters ${rangedMs > 0 ? `that take ${pct(tableMs > 0 ? rangedMs / tableMs : 0)} of its time` : 'a time column gets'}`)
    } else cand.notes.push(`monotonic (correlation ${round(c.correlation!, 2)}): a hash key is mandatory`)
  }
  if (routingCoverage === null) cand.rejected.push('no statement over the table in the window: routing coverage not measured')
  else if (holds('routingCoverage', routingCoverage) === false) {
    cand.rejected.push(`routes ${pct(routingCoverage)} of the table's statement time (needs ${thresholdText(rule, 'routingCoverage')})`)
  }
  return cand
}

function rank(a: Candidate, b: Candidate): number {
  return (a.rejected.length === 0 ? 0 : 1) - (b.rejected.length === 0 ? 0 : 1) || (b.routingCoverage ?? -1) - (a.routingCoverage ?? -1)
    || a.rejected.length - b.rejected.length || (b.distinct ?? 0) - (a.distinct ?? 0)
}

/** Columns worth scoring: keys, foreign-key columns, what the workload filters or joins on, and what was sampled. */
function candidateColumns(table: ShardTable, overTable: WorkloadStatement[]): ColumnStats[] {
  const named = new Set<string>([...table.foreignKeys.flatMap((k) => k.columns), ...table.constraints.flatMap((k) => k.columns), ...(table.samples ?? []).map((s) => s.column)])
  const prefix = `${table.key}\u0000`
  for (const s of overTable) {
    for (const t of [...s.pinned, ...s.ranged, ...s.joins.flat()]) if (t.startsWith(prefix)) named.add(t.slice(prefix.length))
  }
  return table.columns.filter((c) => named.has(c.name))
}

interface Placement {
  table: ShardTable
  column: string
  candidate: Candidate
  /** The first table of its co-location group, or undefined for the first itself. */
  colocateWith?: ShardTable
}

const quoted = (t: ShardTable) => quoteQualified(t.schema, t.name)
/** A constraint's column list as pasted into DDL: every name quoted. */
const columnList = (columns: string[]) => columns.map(quoteIdent).join(', ')

function blockersOf(p: Placement, placements: Map<string, Placement>): NonNullable<ShardKeyRemedy['blockers']> {
  const out: NonNullable<ShardKeyRemedy['blockers']> = []
  for (const k of p.table.constraints) {
    if (k.columns.includes(p.column)) continue
    out.push({constraint: k.name, kind: k.kind === 'primary' ? 'primary key' : 'unique', columns: k.columns,
      fix: `include ${quoteIdent(p.column)}: ${k.kind === 'primary' ? 'PRIMARY KEY' : 'UNIQUE'} (${columnList([p.column, ...k.columns])})`})
  }
  for (const fk of p.table.foreignKeys) {
    const other = placements.get(fk.references)
    if (!other) continue
    const i = fk.columns.indexOf(p.column)
    if (i >= 0 && fk.referencedColumns[i] === other.column) continue
    out.push({constraint: fk.name, kind: 'foreign key', columns: fk.columns,
      fix: `a foreign key between distributed tables must include the distribution columns: FOREIGN KEY (${columnList([p.column, ...fk.columns])}) REFERENCES ${quoted(other.table)} (${columnList([other.column, ...fk.referencedColumns])})`})
  }
  return out
}

export const shardKeyAdvisor: Advisor = {
  id: 'shard-key',
  scope: 'postgres',
  description: 'Distribution columns, co-location and reference tables for Citus, when the workload outgrows one node (or with --shard-plan)',
  async advise(ctx) {
    const target = ctx.target!.name
    const rule = ctx.rules(target).find((r) => r.id === RULE_ID)
    const stats = dataOf(ctx.readings, columnStatsReading, target)
    if (!rule?.enabled || !stats) return []
    const holds = thresholds(rule)
    const planned = typeof ctx.options.shardPlan === 'number' ? ctx.options.shardPlan : undefined
    const shards = planned ?? stats.shards
    // Samples hashed over another shard count (a snapshot analysed with a different --shard-plan) say nothing of this one.
    const samplesValid = stats.shards === shards
    const statementsData = dataOf(ctx.readings, statementsReading, target)
    const plans = dataOf(ctx.readings, plansReading, target)

    // The catalog the parser resolves names with: the probe's tables, and the plans probe's when it ran.
    const planColumns = plans ? columnsOf(plans.catalog) : undefined
    const catalog: CatalogColumns = {
      columns: {...planColumns?.columns, ...Object.fromEntries(stats.tables.map((t) => [t.key, t.columns.map((c) => c.name)]))},
      searchPath: planColumns?.searchPath ?? ['public'],
      views: planColumns?.views ?? {},
    }
    const byKey = new Map(stats.tables.map((t) => [t.key, t]))
    // Is the node saturated? Read first: without it and without a plan asked for, nothing is said and nothing is parsed.
    // This database server's CPU: another host's (an application server at 95%) says nothing of whether it outgrows one node.
    const cpu = serverCpu(ctx.snapshot.readings, ctx.target?.url, cpuSubjectOf(ctx.options))?.value ?? null
    const cache = dataOf(ctx.readings, cacheHitReading, target)
    const readTimeShare = cache && cache.trackIoTiming && cache.readTimeMs !== null && cache.activeTimeMs ? cache.readTimeMs / cache.activeTimeMs : null
    const memoryMultiple = stats.sharedBuffersBytes > 0 ? stats.databaseBytes / stats.sharedBuffersBytes : null
    const cpuSaturated = holds('cpuUtilization', cpu) === true
    const workingSetFar = holds('readTimeShare', readTimeShare) === true && holds('sharedBuffersMultiple', memoryMultiple) === true
    if (planned === undefined && !cpuSaturated && !workingSetFar) return []
    if (!statementsData) {
      ctx.notRead?.({what: 'statements to measure routing coverage by', reason: 'postgres.statements read nothing (pg_stat_statements missing, or the probe skipped): no column\'s routing coverage can be measured, so none is a good key'})
    }
    await ensureParser()
    // chokepoint's own statements (this probe's samples among them) are not the workload, nor part of its time.
    const listed = statementsData?.statements ?? []
    const workload = workloadOf(listed.filter((s) => !s.own), catalog, new Set(byKey.keys()))
    const databaseMs = Math.max(0, (statementsData?.totalMs ?? 0) - listed.filter((s) => s.own).reduce((a, s) => a + s.totalMs, 0))
    const writeMs = workload.filter((s) => s.write).reduce((a, s) => a + s.totalMs, 0)
    const writeShare = databaseMs > 0 ? writeMs / databaseMs : null
    const tableMs = new Map<string, number>()
    const overTable = new Map<string, WorkloadStatement[]>()
    for (const s of workload) {
      for (const t of s.tables) {
        tableMs.set(t, (tableMs.get(t) ?? 0) + s.totalMs)
        const list = overTable.get(t)
        if (list) list.push(s)
        else overTable.set(t, [s])
      }
    }

    // Terms equated by foreign keys and the workload's join predicates: a group co-locates along one class.
    const classes = new Classes()
    const neighbours = new Map<string, Set<string>>()
    const link = (a: string, b: string) => {
      if (a === b) return
      neighbours.set(a, (neighbours.get(a) ?? new Set()).add(b))
      neighbours.set(b, (neighbours.get(b) ?? new Set()).add(a))
    }
    for (const t of stats.tables) {
      for (const fk of t.foreignKeys) {
        fk.columns.forEach((c, i) => classes.union(termKey(t.key, c), termKey(fk.references, fk.referencedColumns[i])))
        link(t.key, fk.references)
      }
    }
    for (const s of workload) {
      for (const [a, b] of s.joins) {
        classes.union(a, b)
        link(a.split('\u0000')[0], b.split('\u0000')[0])
      }
    }

    const candidates = new Map<string, Candidate[]>()
    for (const t of stats.tables) {
      const mine = overTable.get(t.key) ?? []
      const scored = candidateColumns(t, mine).map((c) => scoreColumn(t, c, shards, samplesValid, mine, tableMs.get(t.key) ?? 0, holds, rule))
      candidates.set(t.key, scored.sort(rank))
    }

    // Co-location first. Terms equated by keys and joins form classes; the class whose good columns route the most
    // statement time over all tables becomes a group (its largest table the anchor, the others co-located with it),
    // then the next class over the tables left. A small, widely joined table with no column in a group is a
    // reference table; a large table with no good column stays where it is (listed, with why).
    const placements = new Map<string, Placement>()
    const groups: Array<{anchor: ShardTable; column: string; root: string; type: string}> = []
    const referenceTables: ShardTable[] = []
    const unplaced: Array<{table: string; best?: Candidate}> = []
    const ordered = [...stats.tables].sort((a, b) => b.sizeBytes - a.sizeBytes || a.key.localeCompare(b.key))
    const good = new Map(ordered.map((t) => [t.key, (candidates.get(t.key) ?? []).filter((c) => c.rejected.length === 0)]))
    const isReference = (t: ShardTable) => {
      const joined = neighbours.get(t.key)?.size ?? 0
      return joined > 0 && holds('referenceMaxRows', t.rows) !== false && holds('referenceMinJoined', joined) !== false
    }
    const weight = new Map<string, number>()
    for (const t of ordered) {
      if (!t.large || isReference(t)) continue
      const seen = new Set<string>()
      for (const c of good.get(t.key)!) {
        const root = classes.find(termKey(t.key, c.column))
        if (seen.has(root)) continue
        seen.add(root)
        // Tiny so that a class no statement filters on still ranks (and columns of one type group together).
        weight.set(root, (weight.get(root) ?? 0) + c.routedMs + 1e-9)
      }
    }
    const rootOf = (t: ShardTable, c: Candidate) => classes.find(termKey(t.key, c.column))
    const ranked = [...weight].sort((a, b) => b[1] - a[1]).map(([root]) => root)
    const rankOf = new Map(ranked.map((root, i) => [root, i]))
    // Each table takes its good column in the heaviest class (a class no large table starts stays unused): one pass.
    const groupOf = new Map<string, {anchor: ShardTable; column: string; root: string; type: string}>()
    // Tables that may start a group first, so a small table joins a group whichever its size.
    const starts = (t: ShardTable) => t.large && !isReference(t)
    for (const t of [...ordered.filter(starts), ...ordered.filter((x) => !starts(x))]) {
      const choice = good.get(t.key)!.filter((c) => rankOf.has(rootOf(t, c))).sort((a, b) => rankOf.get(rootOf(t, a))! - rankOf.get(rootOf(t, b))!)
      for (const c of choice) {
        const root = rootOf(t, c)
        const group = groupOf.get(root)
        if (group && group.type !== c.type) continue
        if (!group && !starts(t)) continue
        if (group) placements.set(t.key, {table: t, column: c.column, candidate: c, colocateWith: group.anchor})
        else {
          const g = {anchor: t, column: c.column, root, type: c.type}
          groupOf.set(root, g)
          groups.push(g)
          placements.set(t.key, {table: t, column: c.column, candidate: c})
        }
        break
      }
    }
    groups.sort((a, b) => rankOf.get(a.root)! - rankOf.get(b.root)!)
    for (const t of ordered) {
      if (placements.has(t.key)) continue
      if (isReference(t)) referenceTables.push(t)
      else if (t.large) unplaced.push({table: t.key, best: candidates.get(t.key)?.[0]})
    }

    // Routing after the change: a statement is single-shard when every distributed table it touches is pinned by its key.
    const routedMs = (s: WorkloadStatement) => s.tables.every((t) => !placements.has(t) || s.pinned.has(termKey(t, placements.get(t)!.column)))
    const overDistributed = workload.filter((s) => s.tables.some((t) => placements.has(t)))
    const distributedMs = overDistributed.reduce((a, s) => a + s.totalMs, 0)
    const singleShardMs = overDistributed.filter(routedMs).reduce((a, s) => a + s.totalMs, 0)
    const singleShardShare = distributedMs > 0 ? singleShardMs / distributedMs : null

    // Does the workload outgrow one node? Writes dominate, and the node is saturated, and a good key exists.
    const writesHigh = holds('writeShare', writeShare) === true
    const goodKey = groups.length > 0
    const warranted = writesHigh && (cpuSaturated || workingSetFar) && goodKey
    if (!warranted && planned === undefined) return []

    const numbers = `writes take ${pct(writeShare)} of statement time (needs ${thresholdText(rule, 'writeShare')}), CPU ${cpu === null ? 'not measured (no Prometheus CPU reading names this server)' : pct(cpu)} (saturated at ${thresholdText(rule, 'cpuUtilization')}), `
      + `block reads ${readTimeShare === null ? 'not measured (track_io_timing off or no cache-hit reading)' : pct(readTimeShare)} of statement time with the database ${memoryMultiple === null ? 'n/a' : `${round(memoryMultiple, 1)}x`} shared_buffers`
      + `, ${goodKey ? `a good key exists (${groups.map((g) => `${g.anchor.key}.${g.column}`).join(', ')})` : 'no column routes the workload well'}`
    const missing = [!writesHigh && 'writes do not dominate', !(cpuSaturated || workingSetFar) && 'the node is not saturated', !goodKey && 'no good shard key exists'].filter(Boolean)
    const decidedBy = warranted ? `sharding is warranted: ${numbers}.` : `sharding is not warranted yet (${missing.join('; ')}): ${numbers}.`
    const wouldChange = warranted
      ? 'Indexes or caching that bring the write share or CPU back under the thresholds, or a key that routes less of the workload, would make sharding premature.'
      : `Writes reaching ${thresholdText(rule, 'writeShare')} of statement time while CPU stays ${thresholdText(rule, 'cpuUtilization')} (or block reads ${thresholdText(rule, 'readTimeShare')} of statement time on a database ${thresholdText(rule, 'sharedBuffersMultiple')} x shared_buffers)${goodKey ? '' : ', with a column that routes most of the workload'}, would make it warranted.`

    const remedies = buildRemedies(placements, groups, referenceTables, overTable, databaseMs, shards)
    const shareOfTime = databaseMs > 0 ? round(distributedMs / databaseMs, 4) : null
    const anchor = groups[0]
    const planText = anchor
      ? `distribute ${anchor.anchor.key} by ${anchor.column} (routes ${pct(placements.get(anchor.anchor.key)!.candidate.routingCoverage)} of its time)`
      : 'no table has a column that routes its workload'
    const finding: AdvisorFinding = {
      rule: RULE_ID,
      severity: warranted ? 'warning' : 'info',
      target,
      subject: `database ${stats.database}`,
      metric: 'postgres.shard.single_shard_share',
      value: singleShardShare === null ? null : round(singleShardShare, 4),
      message: `${warranted ? 'the workload outgrows one node' : 'sharding not warranted yet'}: ${planText}`
        + `${placements.size > 1 ? `, ${placements.size - 1} more co-located or distributed` : ''}${referenceTables.length ? `, ${referenceTables.length} reference table(s)` : ''} (${shards} shards)`,
      evidence: {
        scaling: {path: 'distributed-sql', warranted, share: shareOfTime, decidedBy, wouldChange},
        shards,
        planned: planned !== undefined,
        tables: [...placements.keys(), ...referenceTables.map((t) => t.key)],
        distributed: [...placements.values()].map((p) => ({table: p.table.key, column: p.column, colocateWith: p.colocateWith?.key ?? null})),
        referenceTables: referenceTables.map((t) => t.key),
        withoutKey: unplaced.map((u) => ({table: u.table, best: u.best?.column ?? null, rejected: u.best?.rejected ?? []})),
        candidates: Object.fromEntries([...candidates].filter(([k]) => byKey.get(k)?.large).map(([k, list]) => [k, list.slice(0, MAX_LISTED_CANDIDATES)])),
        singleShardShare: singleShardShare === null ? null : round(singleShardShare, 4),
        statements: overDistributed.map((s) => s.queryid),
        writeShare: writeShare === null ? null : round(writeShare, 4),
        cpuUtilization: cpu,
        readTimeShare: readTimeShare === null ? null : round(readTimeShare, 4),
        sharedBuffersMultiple: memoryMultiple === null ? null : round(memoryMultiple, 2),
        samplesValid,
        ...(samplesValid ? {} : {samplesNote: `the samples were hashed over ${stats.shards} shards at capture, not ${shards}: skew judged from pg_stats alone`}),
        windowSeconds: statementsData?.windowSeconds ?? null,
      },
      remedies,
    }
    return [finding]
  },
}

/** The server's Prometheus CPU subject, where its host name does not appear in one: the target option readReplica.cpuSubject. */
function cpuSubjectOf(options: Record<string, unknown>): string | undefined {
  const subject = (options.readReplica as {cpuSubject?: unknown} | undefined)?.cpuSubject
  return typeof subject === 'string' && subject ? subject : undefined
}

function buildRemedies(placements: Map<string, Placement>, groups: Array<{anchor: ShardTable}>, referenceTables: ShardTable[],
  overTable: Map<string, WorkloadStatement[]>, databaseMs: number, shards: number): ProposedRemedy[] {
  const references = referenceTables.map(quoted)
  const referenceDdl = referenceTables.map((t) => `SELECT create_reference_table(${quoteLiteral(quoted(t))});`)
  // Anchors first (colocate_with names a table already distributed), each followed by its group.
  const order: Placement[] = []
  const members = new Map<ShardTable, Placement[]>()
  for (const p of placements.values()) {
    if (!p.colocateWith) continue
    const list = members.get(p.colocateWith)
    if (list) list.push(p)
    else members.set(p.colocateWith, [p])
  }
  for (const g of groups) order.push(placements.get(g.anchor.key)!, ...(members.get(g.anchor) ?? []))
  return order.map((p, i): Proposed<ShardKeyRemedy> => {
    const own = `SELECT create_distributed_table(${quoteLiteral(quoted(p.table))}, ${quoteLiteral(p.column)}, `
      + (p.colocateWith ? `colocate_with => ${quoteLiteral(quoted(p.colocateWith))});` : `shard_count => ${shards});`)
    const ddl = i === 0 ? [...referenceDdl, own] : [own]
    const key = termKey(p.table.key, p.column)
    const multi = (overTable.get(p.table.key) ?? []).filter((s) => !s.pinned.has(key)).sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, MAX_LISTED_STATEMENTS).map((s) => ({queryid: s.queryid, query: clip(s.query, 300), share: databaseMs > 0 ? round(s.totalMs / databaseMs, 4) : 0}))
    const blockers = blockersOf(p, placements)
    return {
      kind: 'shard-key',
      summary: `Distribute ${quoted(p.table)} by ${p.column} (hash${p.colocateWith ? `, co-located with ${quoted(p.colocateWith)}` : `, ${shards} shards`}; routes ${pct(p.candidate.routingCoverage)} of its statement time)`
        + `${blockers.length ? `; first change ${blockers.map((b) => b.constraint).join(', ')}` : ''}${multi.length ? `; ${multi.length} statement(s) become multi-shard` : ''}`
        // What pasting it does to a live table, and how it is undone: the DDL alone says neither.
        + `. create_distributed_table copies the table's rows into the shards and blocks writes to it until done (Citus 11.1+: create_distributed_table_concurrently does not); undistribute_table(${quoteLiteral(quoted(p.table))}) undoes it`,
      sql: ddl.join('\n'),
      table: quoted(p.table),
      column: p.column,
      columns: [p.column],
      method: 'hash',
      colocateWith: p.colocateWith ? quoted(p.colocateWith) : null,
      referenceTables: references,
      blockers,
      ddl,
      multiShardStatements: multi,
      shards,
    }
  })
}
