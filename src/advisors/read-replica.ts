/**
 * Read replicas, proposed only when the numbers call for them: reads dominate this database's statement time (the
 * rule's target band, >= 70% by default), the primary is saturated, the measured lag fits what the routed reads
 * tolerate, and the primary is not write-heavy (a high WAL rate: every replica replays every byte and takes no
 * write off the primary; that points at distributed SQL instead). From a snapshot alone, with no round trip.
 *
 * Load is measured in units of the primary's capacity: the Prometheus CPU busy share of the database server when a
 * CPU reading names it, else the statement time per second (average sessions executing, pg_stat_statements over
 * the window) over its cores (option readReplica.cpuCores, or poolChain.dbCores), else a PgBouncer queue for this
 * database whose oldest client has waited past pool/max-wait's target. Sizing: the routed reads' part of that load, less the room the primary keeps for reads at the
 * target utilisation after what stays on it, over one replica's capacity at the target utilisation.
 *
 * What stays on the primary, from aggregates (pg_stat_statements shows no transaction): locking reads (FOR
 * UPDATE/SHARE), reads that run longer than max_standby_streaming_delay (replay conflicts would cancel them on a
 * replica), and read-backs: a read of a table the same role writes in the window, with at most readBackCallsRatio
 * calls per write of that table (one read per write is the write-then-read-it-back request; reads many times more
 * frequent than the writes are the read traffic a replica serves, at most the lag stale).
 */
import type {Advisor, AdvisorContext, AdvisorFinding} from '../core/advisor.js'
import {classify} from '../core/engine.js'
import {percent as pct, round} from '../core/numbers.js'
import {dataOf, readingsOf} from '../core/readings.js'
import type {Proposed, ReplicaRemedy, ReplicaStatement} from '../core/remedies.js'
import type {Reading} from '../core/types.js'
import {formatBytes} from '../core/units.js'
import {statementAccess, type StatementAccess} from '../knowledge/postgres/statement-writes.js'
import {clip} from '../knowledge/postgres/query-text.js'
import {ensureParser} from '../knowledge/postgres/workload.js'
import {poolsReading} from '../readings/pgbouncer.js'
import {hostOf, serverCpu} from '../readings/prometheus.js'
import {connectionsReading, measuredStatementSeconds, replicationReading, statementsReading, walReading, type StatementsData} from '../readings/postgres.js'

export const RULE_ID = 'database/read-replica'
const CPU_RULE = 'resources/cpu'
const MAX_WAIT_RULE = 'pool/max-wait'
/** pool/max-wait's action threshold, when the rule is off or not loaded. */
const DEFAULT_MAX_WAIT_SECONDS = 1

/** The defaults of the rule file's `heuristic:` (rules/database/read-replica.yaml), used when it lacks one. */
const DEFAULT_HEURISTIC = {saturation: 0.7, targetUtilisation: 0.6, lagToleranceSeconds: 5, readBackCallsRatio: 2,
  highWalBytesPerSecond: 16 * 1024 * 1024, maxStandbyStreamingDelaySeconds: 30}

type Heuristic = typeof DEFAULT_HEURISTIC

/** The rule's heuristic (with the user's overrides) and the facts about this server its target options give. */
interface Options extends Heuristic {
  cpuCores?: number
  coresPerReplica?: number
  cpuSubject?: string
}

const positive = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined)

function readOptions(options: Record<string, unknown>, heuristic: Record<string, number> | undefined): Options {
  const own = (options.readReplica ?? {}) as Record<string, unknown>
  const chain = (options.poolChain ?? {}) as Record<string, unknown>
  return {
    ...DEFAULT_HEURISTIC,
    ...heuristic,
    cpuCores: positive(own.cpuCores) ?? positive(chain.dbCores),
    coresPerReplica: positive(own.coresPerReplica),
    cpuSubject: typeof own.cpuSubject === 'string' && own.cpuSubject ? own.cpuSubject : undefined,
  }
}

/** One listed statement with where it can run. */
interface Classified {
  queryid: string
  query: string
  user: string
  calls: number
  totalMs: number
  meanMs: number
  maxMs: number
  access: StatementAccess['access']
  kind: string
  tables: string[]
  written?: string
}

/** Unqualified and qualified names of one table meet when the names agree and no schema disagrees. */
function sameTable(a: string, b: string): boolean {
  const [as, an] = a.includes('.') ? a.split('.', 2) : [undefined, a]
  const [bs, bn] = b.includes('.') ? b.split('.', 2) : [undefined, b]
  return an === bn && (as === undefined || bs === undefined || as === bs)
}

/** System catalogs and statistics views (pg_*, information_schema): what monitoring reads, chokepoint's own queries included. */
const isSystemRelation = (table: string) => /^(pg_catalog|information_schema)\./.test(table) || /(^|\.)pg_/.test(table)

async function classifyStatements(data: StatementsData): Promise<Classified[]> {
  await ensureParser()
  return data.statements.map((s) => {
    const found = statementAccess(s.query)
    // A read of no user table (catalogs, statistics views, SELECT 1) is monitoring, not read load a replica takes:
    // it counts with the primary's other time.
    const monitoring = found?.access === 'read' && found.tables.every(isSystemRelation)
    const access = monitoring ? 'other' : found?.access ?? 'other'
    const kind = monitoring ? 'catalog' : found?.kind ?? 'unparsed'
    return {queryid: s.queryid, query: s.query, user: s.user, calls: s.calls, totalMs: s.totalMs, meanMs: s.meanMs, maxMs: s.maxMs,
      access, kind, tables: found?.tables ?? [], written: found?.written}
  })
}

interface Load {
  /** Busy share of the primary's capacity (1 = every core busy), or null when nothing measures it. */
  utilisation: number | null
  saturated: boolean
  basis: string
  cores: number | null
  statementBusyCores: number | null
  activeSessions: number | null
  clientsWaiting: number | null
}

function measureLoad(ctx: AdvisorContext, opts: Options, data: StatementsData, seconds: number | null): Load {
  const target = ctx.target!.name
  const connections = readingsOf(ctx.readings, connectionsReading, target)[0]?.reading.metrics.find((m) => m.name === 'pool.utilization')
  const activeSessions = typeof connections?.evidence?.active === 'number' ? connections.evidence.active : null
  const statementBusyCores = seconds ? data.totalMs / 1000 / seconds : null
  const queue = pgbouncerQueue(ctx, data.database, hostOf(ctx.target?.url))
  const waiting = queue?.waiting ?? null
  const cpuRule = ctx.rules(target).find((r) => r.id === CPU_RULE && r.enabled)
  const saturatedAt = (u: number) => (cpuRule ? classify(cpuRule, u) !== 'ok' : u >= opts.saturation)
  const bandText = (saturated: boolean) => cpuRule
    ? `${saturated ? 'outside' : 'inside'} the ${CPU_RULE} target ${cpuRule.target}`
    : `${saturated ? 'at or above' : 'below'} ${pct(opts.saturation)}`
  const cpu = serverCpu(ctx.snapshot.readings, ctx.target?.url, opts.cpuSubject)
  const common = {cores: opts.cpuCores ?? null, statementBusyCores, activeSessions, clientsWaiting: waiting}
  if (cpu) {
    const saturated = saturatedAt(cpu.value)
    return {...common, utilisation: cpu.value, saturated,
      basis: `CPU ${pct(cpu.value)} (Prometheus ${cpu.prometheus}, ${cpu.subject}), ${bandText(saturated)}`}
  }
  if (opts.cpuCores) {
    // The statement time per second is the average number of sessions executing through the window; the active
    // count is one instant, used only when the counters cover no known period.
    const busy = statementBusyCores ?? activeSessions ?? 0
    const u = busy / opts.cpuCores
    const how = statementBusyCores !== null ? 'sessions busy on average (statement time per second)' : 'sessions active at collect'
    const saturated = saturatedAt(u)
    return {...common, utilisation: u, saturated,
      basis: `${round(busy, 2)} ${how} over ${opts.cpuCores} cores = ${pct(u)}, ${bandText(saturated)}`}
  }
  if (queue && queue.waiting > 0 && queue.sustained) {
    return {...common, utilisation: null, saturated: true,
      basis: `${queue.waiting} PgBouncer client(s) waiting for a server connection to ${data.database}, the oldest for ${round(queue.oldestWaitSeconds, 2)} s (${MAX_WAIT_RULE} ${queue.band})`}
  }
  return {...common, utilisation: null, saturated: false,
    basis: 'not measured: no Prometheus CPU reading names this server and its cores are not configured (readReplica.cpuCores)'}
}

/**
 * PgBouncer's queue for this database. Clients waiting at one instant come and go under any burst; only a queue
 * whose oldest client has waited past pool/max-wait's action threshold (1 s by default) says the primary cannot
 * keep up, so that is what counts as saturation measured without a CPU reading.
 */
function pgbouncerQueue(ctx: AdvisorContext, database: string, host: string | undefined): {waiting: number; oldestWaitSeconds: number; sustained: boolean; band: string} | null {
  const readings = readingsOf(ctx.snapshot.readings, poolsReading)
  const pools = readings.flatMap((r) => r.data.pools.map((pool) => ({pool, bouncer: r.reading.target})))
    .filter(({pool}) => pool.database === database && (host === undefined || pool.serverHost === host || !pool.serverHost))
  if (pools.length === 0) return null
  const waiting = pools.reduce((n, {pool}) => n + pool.clWaiting, 0)
  const oldest = pools.reduce((worst, entry) => (entry.pool.maxWaitSeconds > worst.pool.maxWaitSeconds ? entry : worst))
  const rule = ctx.rules(oldest.bouncer).find((r) => r.id === MAX_WAIT_RULE && r.enabled)
  const sustained = rule ? classify(rule, oldest.pool.maxWaitSeconds, {clientsWaiting: waiting}) !== 'ok' : oldest.pool.maxWaitSeconds > DEFAULT_MAX_WAIT_SECONDS
  const band = rule ? `${sustained ? 'outside' : 'inside'} its target ${rule.target}` : `${sustained ? 'above' : 'within'} ${DEFAULT_MAX_WAIT_SECONDS} s`
  return {waiting, oldestWaitSeconds: oldest.pool.maxWaitSeconds, sustained, band}
}

interface StandbyView {
  name: string
  lagSeconds: number | null
  /** Read statement time and calls on the standby (its own pg_stat_statements, monitoring left out), when it is audited. */
  readMs: number | null
  /**
   * readMs over the seconds the standby's own counters cover: at window 0 each server counts since its own
   * pg_stat_statements reset, so only rates compare with the primary's.
   */
  readMsPerSecond: number | null
  calls: number | null
  maxStandbyStreamingDelayMs: number | null
  hotStandbyFeedback: boolean | null
}

/** pg_control_system().system_identifier as the driver recorded it (a physical standby has its primary's). */
const identityOf = (facts: Record<string, unknown> | undefined) =>
  typeof facts?.systemIdentifier === 'string' && facts.systemIdentifier ? facts.systemIdentifier : undefined

/**
 * The standbys of this primary: audited standby targets with the same system identifier (the driver's fact; where
 * it is not readable, a WAL receiver streaming from this primary's host), and the rows of pg_stat_replication.
 */
async function standbysOf(ctx: AdvisorContext, database: string): Promise<{audited: StandbyView[]; streaming: number; streamingLag: number | null}> {
  const target = ctx.target!.name
  const ownIdentity = identityOf(ctx.target?.facts)
  const host = hostOf(ctx.target?.url)
  const audited: StandbyView[] = []
  for (const t of ctx.snapshot.targets) {
    if (t.name === target || t.kind !== 'postgres' || t.status !== 'ok') continue
    const repl = dataOf(ctx.snapshot.readings, replicationReading, t.name)
    if (repl?.role !== 'standby') continue
    const wal = dataOf(ctx.snapshot.readings, walReading, t.name)
    const identity = identityOf(t.facts)
    const ours = ownIdentity && identity ? ownIdentity === identity : !!host && repl.standby?.senderHost === host
    if (!ours) continue
    const statements = dataOf(ctx.snapshot.readings, statementsReading, t.name)
    const sameDb = statements && statements.database === database
    let readMs: number | null = null
    let calls: number | null = null
    if (sameDb) {
      // The reads it takes off the primary: its own pg_stat_statements, classified as the primary's are (a monitoring
      // read, chokepoint's own included, is no read load).
      const reads = (await classifyStatements(statements)).filter((s) => s.access === 'read')
      readMs = reads.reduce((n, s) => n + s.totalMs, 0)
      calls = reads.reduce((n, s) => n + s.calls, 0)
    }
    const seconds = statements ? measuredStatementSeconds(statements, ctx.snapshot.capturedAt) : null
    const readMsPerSecond = readMs !== null && seconds !== null ? readMs / seconds : null
    audited.push({name: t.name, lagSeconds: repl.standby?.lagSeconds ?? null, readMs, readMsPerSecond, calls,
      maxStandbyStreamingDelayMs: wal?.maxStandbyStreamingDelayMs ?? null, hotStandbyFeedback: wal?.hotStandbyFeedback ?? null})
  }
  const repl = dataOf(ctx.readings, replicationReading, target)
  const rows = repl?.role === 'primary' ? repl.standbys ?? [] : []
  const streamingLag = rows.length > 0 ? Math.max(...rows.map((s) => Math.max(s.writeLag, s.flushLag, s.replayLag))) : null
  return {audited, streaming: rows.length, streamingLag}
}

/**
 * The advisor's judgement for one primary, whether or not it raises a finding: what the path verdict and tests read
 * (evidence.scaling and the numbers behind it). Undefined where there is nothing to judge (no statements, a standby,
 * the rule off).
 */
export async function assessReadReplicas(ctx: AdvisorContext) {
  const target = ctx.target!.name
  const own = ctx.rules(target).find((r) => r.id === RULE_ID)
  const data = dataOf(ctx.readings, statementsReading, target)
  if (!own?.enabled || !data || data.statements.length === 0) return undefined
  // A standby is where reads go, not what gets a replica of its own.
  if (ctx.target?.facts?.role === 'standby' || dataOf(ctx.readings, replicationReading, target)?.role === 'standby') return undefined
  const opts = readOptions(ctx.options, own.heuristic)
  const seconds = measuredStatementSeconds(data, ctx.snapshot.capturedAt)
  const statements = await classifyStatements(data)
  // The workload's time: monitoring reads (chokepoint's own among them) are the audit's, not the application's.
  const monitoringMs = statements.filter((s) => s.kind === 'catalog').reduce((n, s) => n + s.totalMs, 0)
  const listedMs = statements.reduce((n, s) => n + s.totalMs, 0) - monitoringMs
  if (listedMs <= 0) return undefined
  const msOf = (pick: (s: Classified) => boolean) => statements.filter(pick).reduce((n, s) => n + s.totalMs, 0)
  const readMs = msOf((s) => s.access === 'read')
  const readShare = readMs / listedMs
  const byKind: Record<string, number> = {}
  for (const s of statements) byKind[s.kind] = round((byKind[s.kind] ?? 0) + s.totalMs)

  const wal = dataOf(ctx.readings, walReading, target)
  const standbys = await standbysOf(ctx, data.database)
  const delayMs = standbys.audited.map((s) => s.maxStandbyStreamingDelayMs).find((d) => d !== null) ?? opts.maxStandbyStreamingDelaySeconds * 1000
  const delayRead = standbys.audited.some((s) => s.maxStandbyStreamingDelayMs !== null)

  // What stays on the primary, and why.
  // Writes by the table name they write (without schema), so each read looks up only its own tables' writes.
  const writesByName = new Map<string, Classified[]>()
  for (const w of statements) {
    if (w.access !== 'write' || !w.written) continue
    const name = w.written.slice(w.written.lastIndexOf('.') + 1)
    writesByName.set(name, [...(writesByName.get(name) ?? []), w])
  }
  const stay: Array<ReplicaStatement & {totalMs: number}> = []
  const routed: Classified[] = []
  for (const s of statements) {
    if (s.access === 'locking-read') {
      stay.push({queryid: s.queryid, query: clip(s.query, 300), why: 'locks rows (FOR UPDATE/SHARE): only the primary can', totalMs: s.totalMs})
      continue
    }
    if (s.access !== 'read') continue
    const readBack = s.tables.flatMap((t) => (writesByName.get(t.slice(t.lastIndexOf('.') + 1)) ?? []).filter((w) => sameTable(t, w.written!)))
      .find((w) => w.user === s.user && s.calls <= opts.readBackCallsRatio * w.calls)
    if (readBack) {
      stay.push({queryid: s.queryid, query: clip(s.query, 300), totalMs: s.totalMs,
        why: `reads ${readBack.written}, which the same role writes (queryid ${readBack.queryid}, ${readBack.calls} calls) about as often (${s.calls} calls, at most ${opts.readBackCallsRatio} per write): a read-back of its own write, which a replica may not have yet`})
      continue
    }
    if (delayMs >= 0 && s.maxMs > delayMs) {
      stay.push({queryid: s.queryid, query: clip(s.query, 300), totalMs: s.totalMs,
        why: `runs up to ${round(s.maxMs / 1000, 1)} s, longer than max_standby_streaming_delay ${round(delayMs / 1000, 1)} s${delayRead ? '' : ' (default)'}: WAL replay conflicts would cancel it on a replica (route it only to one with hot_standby_feedback on or a longer delay)`})
      continue
    }
    routed.push(s)
  }
  const routedMs = routed.reduce((n, s) => n + s.totalMs, 0)
  const routedShareOfAll = data.totalMs > 0 ? routedMs / data.totalMs : 0

  const load = measureLoad(ctx, opts, data, seconds)
  const audited = standbys.audited
  const lags = [...audited.map((s) => s.lagSeconds), standbys.streamingLag].filter((x): x is number => x !== null)
  const measuredLag = lags.length > 0 ? Math.max(...lags) : null
  const lagOk = measuredLag === null || measuredLag <= opts.lagToleranceSeconds
  const walRate = wal?.walBytesPerSecond ?? null
  const writeHeavyWal = walRate !== null && walRate >= opts.highWalBytesPerSecond
  const readsDominate = classify(own, readShare) !== 'ok'
  const existing = Math.max(audited.length, standbys.streaming)

  const warranted = readsDominate && load.saturated && lagOk && !writeHeavyWal && routed.length > 0
  const span = data.windowSeconds > 0 ? `over the ${data.windowSeconds} s window` : 'since the statistics were reset'
  const shareText = `reads take ${pct(readShare)} of the ${Math.round(listedMs)} ms of statement time ${span} (the rule's band ${own.target})`
  const walText = walRate === null ? 'WAL rate not measured (pg_stat_wal, PostgreSQL 14+)' : `WAL ${formatBytes(walRate)}/s${writeHeavyWal ? ` (>= ${formatBytes(opts.highWalBytesPerSecond)}/s: write-heavy; replicas replay every byte and take no write off the primary, which points toward distributed SQL)` : ''}`
  const lagText = measuredLag === null ? `no standby lag measured (expected: under a second on a healthy streaming standby, tolerance ${opts.lagToleranceSeconds} s)` : `standby lag ${round(measuredLag, 2)} s${lagOk ? ` within the ${opts.lagToleranceSeconds} s tolerance` : ` above the ${opts.lagToleranceSeconds} s tolerance: routed reads would see data that old`}`
  const decidedBy = `${shareText}; primary load: ${load.basis}; ${lagText}; ${walText}`
  const reasons: string[] = []
  if (!readsDominate) reasons.push(`reads reaching ${own.target?.replace(/^<\s*/, '')} of statement time`)
  if (!load.saturated) reasons.push(load.utilisation === null ? 'a measured saturated primary (a Prometheus CPU reading naming it, or readReplica.cpuCores)' : 'the primary\'s load reaching its saturation band')
  if (!lagOk) reasons.push(`standby lag back within ${opts.lagToleranceSeconds} s`)
  if (writeHeavyWal) reasons.push(`a WAL rate below ${formatBytes(opts.highWalBytesPerSecond)}/s`)
  if (routed.length === 0) reasons.push('reads that need not stay on the primary')
  const wouldChange = warranted
    ? `Reads falling under ${own.target?.replace(/^<\s*/, '')} of the time, the primary's load back inside its band (caching or indexes for the routed reads first), or lag above ${opts.lagToleranceSeconds} s would withdraw it`
    : `A replica would be warranted with ${reasons.join(', ')}`
  const scaling = {path: 'read-replicas', warranted, share: round(routedShareOfAll, 4), decidedBy, wouldChange}

  // Replicas carrying their share: their own read time against the primary's reads.
  // In rates: the primary's and each replica's counters may cover different periods (window 0: since each one's reset).
  const measuredReplicas = audited.filter((s) => s.readMsPerSecond !== null)
  const replicaReadMs = measuredReplicas.reduce((n, s) => n + s.readMs!, 0)
  const replicaRate = measuredReplicas.reduce((n, s) => n + s.readMsPerSecond!, 0)
  const primaryRate = seconds !== null ? readMs / seconds : null
  const replicaShare = measuredReplicas.length > 0 && primaryRate !== null && replicaRate + primaryRate > 0 ? replicaRate / (replicaRate + primaryRate) : null
  const fairShare = measuredReplicas.length / (measuredReplicas.length + 1)
  const carrying = replicaShare === null ? null : replicaShare >= fairShare / 2
  const replicas = {existing, audited: audited.map((s) => ({target: s.name, lagSeconds: s.lagSeconds, readMs: s.readMs === null ? null : round(s.readMs),
    readMsPerSecond: s.readMsPerSecond === null ? null : round(s.readMsPerSecond), calls: s.calls})),
    streaming: standbys.streaming, share: replicaShare === null ? null : round(replicaShare, 4), fairShare: round(fairShare, 4), carrying}
  const replicaText = replicaShare === null ? ''
    : `; ${measuredReplicas.length} audited replica(s) carry ${pct(replicaShare)} of the read time (${round(replicaRate, 1)} ms/s against the primary's ${round(primaryRate ?? 0, 1)} ms/s; an even share is ${pct(fairShare)}${carrying ? '' : ', so they carry less than half of it: route more reads to them'})`

  const evidence = {
    vendor: 'postgres',
    database: data.database,
    readShare: round(readShare, 4),
    readMs: round(readMs),
    writeMs: round(msOf((s) => s.access === 'write' || s.access === 'locking-read')),
    otherMs: round(msOf((s) => s.access === 'other' && s.kind !== 'catalog')),
    monitoringMs: round(monitoringMs),
    msByKind: byKind,
    listedMs: round(listedMs),
    totalMs: round(data.totalMs),
    statementCoverage: data.totalMs > 0 ? round(listedMs / data.totalMs, 4) : null,
    windowSeconds: data.windowSeconds,
    seconds,
    load: {...load, utilisation: load.utilisation === null ? null : round(load.utilisation, 4),
      statementBusyCores: load.statementBusyCores === null ? null : round(load.statementBusyCores, 3)},
    lag: {measuredSeconds: measuredLag, toleranceSeconds: opts.lagToleranceSeconds},
    wal: wal ? {bytesPerSecond: walRate === null ? null : round(walRate), recordsPerSecond: wal.walRecordsPerSecond === null ? null : round(wal.walRecordsPerSecond, 1), basis: wal.basis, highBytesPerSecond: opts.highWalBytesPerSecond, writeHeavy: writeHeavyWal} : null,
    maxStandbyStreamingDelayMs: delayMs,
    replicas,
    statements: [...routed.map((s) => s.queryid), ...stay.map((s) => s.queryid)],
    scaling,
  }
  return {target, own, data, opts, evidence, warranted, readShare, readMs, reasons, lagText, replicaText, measuredReplicas,
    audited, lagOk, measuredLag, replicaReadMs, routed, stay, routedShareOfAll, load, existing, delayMs, delayRead}
}

export const readReplicaAdvisor: Advisor = {
  id: 'read-replica',
  scope: 'postgres',
  description: 'Read replicas from the read share of statement time, the primary\'s saturation, the lag and the WAL rate',
  async advise(ctx) {
    const assessment = await assessReadReplicas(ctx)
    if (!assessment) return []
    const {target, own, data, opts, evidence, warranted, readShare, readMs, reasons, lagText, replicaText, measuredReplicas,
      audited, lagOk, measuredLag, replicaReadMs, routed, stay, routedShareOfAll, load, existing, delayMs, delayRead} = assessment
    if (!warranted) {
      // Quiet unless an audited replica exists whose share or lag a user wants to see.
      if (measuredReplicas.length === 0 && (audited.length === 0 || lagOk)) return []
      if (readMs <= 0 && replicaReadMs <= 0) return []
      return [{
        rule: RULE_ID, severity: 'info', target, subject: `database ${data.database}`, metric: 'postgres.statements.read_share', value: round(readShare, 4),
        message: `Replicas exist; no new one is needed${replicaText}; ${lagText}`,
        evidence, remedies: [],
      }]
    }

    // Sizing in units of the primary's capacity (1 = all its cores busy).
    const u = opts.targetUtilisation
    const utilisation = load.utilisation ?? 1
    const routedLoad = utilisation * routedShareOfAll
    const stayLoad = utilisation - routedLoad
    const primaryRoom = Math.max(0, u - stayLoad)
    const replicaCapacity = u * (opts.coresPerReplica && opts.cpuCores ? opts.coresPerReplica / opts.cpuCores : 1)
    const excess = Math.max(0, routedLoad - primaryRoom)
    const totalNeeded = Math.max(1, Math.ceil(excess / replicaCapacity - 1e-9))
    // Replicas that exist but take no reads suffice once the reads are routed to them: then none is added.
    const count = Math.max(0, totalNeeded - existing)
    const coresText = opts.cpuCores ? `${opts.cpuCores} cores` : 'the primary\'s capacity'
    const arithmetic = `routed reads ${pct(routedShareOfAll)} of the statement time x primary load ${pct(utilisation)} = ${pct(routedLoad)} of ${coresText}; `
      + `the primary keeps ${pct(stayLoad)} and has room for ${pct(primaryRoom)} more at the target utilisation ${pct(u)}; `
      + `${pct(excess)} left / ${pct(replicaCapacity)} per replica (${opts.coresPerReplica ?? opts.cpuCores ?? 'same'} cores at ${pct(u)}) = ${totalNeeded} replica(s) in all`
      + (existing > 0 ? `, ${existing} exist: add ${count}` : '')
    const topRouted = [...routed].sort((a, b) => b.totalMs - a.totalMs)
    const remedy: Proposed<ReplicaRemedy> = {
      kind: 'replica',
      summary: `${count > 0 ? `Add ${count} read replica(s) and route` : `Route`} ${topRouted.length} read statement(s) (${pct(routedShareOfAll)} of statement time) to ${count > 0 ? 'them' : `the ${existing} existing replica(s), enough at the target utilisation`}; keep ${stay.length} on the primary`
        + `. Replica queries longer than max_standby_streaming_delay (${round(delayMs / 1000, 1)} s${delayRead ? '' : ', the default'}) are cancelled when replay conflicts: keep long reports on the primary or use hot_standby_feedback`,
      count,
      existingReplicas: existing,
      routedStatements: topRouted.map((s) => ({queryid: s.queryid, query: clip(s.query, 300)})),
      stayOnPrimary: stay.map(({totalMs: _ms, ...s}) => s),
      lagToleranceSeconds: opts.lagToleranceSeconds,
      measuredLagSeconds: measuredLag,
      targetUtilisation: u,
      arithmetic,
    }
    const finding: AdvisorFinding = {
      rule: RULE_ID, severity: 'warning', target, subject: `database ${data.database}`, metric: 'postgres.statements.read_share', value: round(readShare, 4),
      message: `Reads take ${pct(readShare)} of statement time on a saturated primary (${load.utilisation === null ? load.basis : `load ${pct(load.utilisation)}`}): ${count > 0 ? `add ${count} read replica(s) and route` : `route`} ${pct(routedShareOfAll)} of the time to ${count > 0 ? 'them' : 'the existing replica(s)'}${replicaText}`,
      evidence, remedies: [remedy],
    }
    return [finding]
  },
}
