/**
 * Remedies are typed: one shape per kind, each described in schemas/report.schema.json (definitions/remedy-*),
 * with a stable id so that reporters can print a remedy shared by several findings once, findings and remedies can
 * refer to each other, and `chokepoint apply --only ID` can name one across runs.
 */
import {createHash} from 'node:crypto'
import type {MatchKind} from './rules.js'

export const REMEDY_KINDS = [
  'index', 'drop-index', 'ttl', 'cache-aside', 'replica', 'pool-size', 'shard-key', 'workers', 'config', 'dead-letter', 'query',
  'cancel-backend', 'terminate-backend',
] as const
export type RemedyKind = (typeof REMEDY_KINDS)[number]

interface RemedyBase {
  /** Stable: a hash of the kind and the fields that say what the remedy does (REMEDY_IDENTITY), never of prose. */
  id: string
  summary: string
  /** Paste-ready SQL or shell command; every identifier quoted. */
  sql?: string
  command?: string
  /** The registered applier that can carry it out (`chokepoint apply`), or null. */
  applier: string | null
  estimate?: Record<string, unknown>
  /** Ids of other remedies in the same report this one builds on or summarises. */
  refs?: string[]
  /**
   * Before the diagnosis runs only: the findings whose remedies this one points at (a rule's `see:`). The diagnosis
   * (src/core/diagnosis.ts) turns each into the id of a remedy in the report (refs) or drops it; it never reaches output.
   */
  see?: Array<{rule: string; match: MatchKind}>
}

export interface IndexRemedy extends RemedyBase {
  kind: 'index'
  sql: string
  table: string
  columns: string[]
  method: string
  where: string | null
  include: string[]
  /** Statement ids (queryids) the index helps. */
  statements: string[]
  /** How the gain was established: hypothetical indexes, indexes really built (and rolled back), or not at all. */
  verified: 'what-if' | 'real' | false
  notVerified?: string
  estimate: {costBefore: number; costAfter: number; queriesImproved: number; sizeBytes: number}
}

export interface DropIndexRemedy extends RemedyBase {
  kind: 'drop-index'
  index: string
  table?: string
  reason: string
  sizeBytes?: number | string
  recreateSql?: string
  checkReplicas?: boolean | number | string
}

export interface TtlRemedy extends RemedyBase {
  kind: 'ttl'
  /** One key pattern (a glob), or several for a summary remedy. */
  pattern?: string
  patterns?: string[]
  ttlSeconds?: number
  /** Backfills draw each key's TTL between ttlSeconds and ttlMaxSeconds. */
  ttlMaxSeconds?: number
  jitter?: number
  keysAffected?: number
  /** The hit rate the proposed TTL is expected to give at the observed read interval (cache patterns). */
  expectedHitRate?: number
  /** Sessions and tokens: the application renews the expiry on each write or access; the lifetime is its setting. */
  sliding?: boolean
  setting?: string
}

export interface CacheAsideRemedy extends RemedyBase {
  kind: 'cache-aside'
  /** A Redis key pattern whose writes should become reads-on-miss (the ttl advisor's write-only patterns). */
  pattern?: string
  /** The statement to cache (pg_stat_statements queryid) and its normalised text (src/advisors/cache-aside.ts). */
  statement?: string
  query?: string
  /** Tables the statement reads ("schema.table"): writes to them are what make an entry stale. */
  tables?: string[]
  /** The cache key: `<table>:<column>:{$n}` for each `column = $n` parameter, then any other parameter. */
  keyPattern?: string
  /** From the staleness budget and the change rate λ of one cached result: t = 2s/λ, within the rule's floor and cap. */
  ttlSeconds?: number
  /** The share of reads allowed to return a stale entry (s). */
  stalenessBudget?: number
  /** h = r·t / (1 + r·t), r the reads per key per second. */
  expectedHitRate?: number
  /** Keys alive at once x (result bytes + key overhead). */
  memoryBytes?: number
  strategy?: 'cache-aside' | 'write-through' | 'refresh-ahead'
  strategyWhy?: string
  /** The TTL and hit-rate arithmetic, with this statement's numbers. */
  formula?: string
}

/** A statement a replica remedy routes or keeps on the primary (queryid, its safe text, and for kept ones why). */
export interface ReplicaStatement {
  queryid: string
  query: string
  why?: string
}

/**
 * Read replicas (the read-replica advisor), or a fix on an existing standby (the replication/lag rule, which sets
 * only summary and sql). The numbers say how many and why: `arithmetic` spells the sizing out.
 */
export interface ReplicaRemedy extends RemedyBase {
  kind: 'replica'
  /** Replicas to add beyond those that exist (0: the existing ones suffice once the reads are routed to them). */
  count?: number
  existingReplicas?: number
  routedStatements?: ReplicaStatement[]
  stayOnPrimary?: ReplicaStatement[]
  /** The lag the routed reads must tolerate (the seed's 5 s unless configured). */
  lagToleranceSeconds?: number
  /** The largest lag measured on the existing standbys, or null when none is measured. */
  measuredLagSeconds?: number | null
  targetUtilisation?: number
  arithmetic?: string
}

export interface PoolSizeRemedy extends RemedyBase {
  kind: 'pool-size'
  instances?: number | null
  appPoolSize?: number | null
  pgbouncerPoolSize?: number | null
  maxConnections?: number | null
  reserved?: number | null
  usable?: number | null
  otherConnections?: number | null
  /** Where requests wait: app, pgbouncer or postgres. */
  waitSits?: string
  waitObserved?: boolean
  current?: Record<string, unknown>
  arithmetic?: string
  sizingHint?: Record<string, unknown>
}

/**
 * Distributing one table (Citus): its distribution column, the table it is co-located with, the reference tables the
 * plan copies to every node, the constraints that must change first, and the workload statements that would stop being
 * routed to one shard. `ddl` holds the statements this remedy runs, in order (the plan's reference tables on its first
 * remedy); `sql` is the same, one statement a line.
 */
export interface ShardKeyRemedy extends RemedyBase {
  kind: 'shard-key'
  /** Quoted schema-qualified name, as in the DDL. */
  table?: string
  /** The distribution column (one), and as a list like an index remedy's columns. */
  column?: string
  columns?: string[]
  method?: 'hash' | 'range'
  /** Quoted name of the table this one is co-located with, or null for the first of its group. */
  colocateWith?: string | null
  referenceTables?: string[]
  /** Primary and unique constraints that do not include the column: Citus refuses them until they do. */
  blockers?: Array<{constraint: string; kind: string; columns: string[]; fix: string}>
  ddl?: string[]
  /** Statements (queryids) of the workload over this table that do not filter on the column: multi-shard after the change. */
  multiShardStatements?: Array<{queryid: string; query: string; share: number}>
  shards?: number
}

export interface WorkersRemedy extends RemedyBase {
  kind: 'workers'
  currentConsumers?: number | string
  recommendedConsumers?: number
  arrivalRate?: number | string
  serviceRate?: number | string
  perWorkerRate?: number
  utilisationTarget?: number
  drainTargetSeconds?: number
  drainEtaSeconds?: number | null
  drainEtaAfterSeconds?: number | null
}

export interface ConfigRemedy extends RemedyBase {
  kind: 'config'
  setting?: string
  value?: string | number
  slot?: string
  /** For a split into two instances: the setting for each. */
  queueInstance?: string
  cacheInstance?: string
}

export interface DeadLetterRemedy extends RemedyBase {
  kind: 'dead-letter'
  failed?: number | string
  samples?: unknown
}

export interface QueryRemedy extends RemedyBase {
  kind: 'query'
  queryid?: string
  query?: string
}

/**
 * Ending a PostgreSQL session's work: pg_cancel_backend (the running statement) or pg_terminate_backend (the whole
 * session, its transaction rolled back). The SQL selects the session by pid AND backend_start (and the transaction's
 * xact_start), so a paste made after the session ended, its pid reused by another, or its connection moved on to
 * another transaction (a pooled connection) matches no row and ends nothing.
 */
interface BackendRemedyFields extends RemedyBase {
  sql: string
  pid: number
  /** pg_stat_activity.backend_start of the session (ISO time): with the pid, one session for ever. */
  backendStart: string
  /** pg_stat_activity.xact_start of the transaction that blocks, when the SQL also requires it. */
  xactStart?: string
  /** Sessions waiting behind it when the remedy was proposed. */
  blockedPids?: number[]
}

export interface CancelBackendRemedy extends BackendRemedyFields {
  kind: 'cancel-backend'
}

export interface TerminateBackendRemedy extends BackendRemedyFields {
  kind: 'terminate-backend'
}

export type Remedy =
  | IndexRemedy | DropIndexRemedy | TtlRemedy | CacheAsideRemedy | ReplicaRemedy | PoolSizeRemedy | ShardKeyRemedy
  | WorkersRemedy | ConfigRemedy | DeadLetterRemedy | QueryRemedy | CancelBackendRemedy | TerminateBackendRemedy

/** A remedy of one kind as an advisor or rule template proposes it: the engine gives it its id and applier. */
export type Proposed<R extends Remedy> = Omit<R, 'id' | 'applier'>
export type ProposedRemedy = Remedy extends infer R ? R extends Remedy ? Proposed<R> : never : never

/**
 * The fields that make two remedies the same action. Prose (summary) and estimates are left out on purpose: a
 * remedy keeps its id when its wording or its estimated gain changes between runs.
 */
export const REMEDY_IDENTITY: Record<RemedyKind, string[]> = {
  'index': ['table', 'columns', 'method', 'where', 'include'],
  'drop-index': ['index', 'reason'],
  'ttl': ['pattern', 'patterns', 'ttlSeconds'],
  'cache-aside': ['pattern', 'statement', 'keyPattern'],
  'replica': ['sql', 'count'],
  'pool-size': ['appPoolSize', 'pgbouncerPoolSize'],
  'shard-key': ['table', 'columns', 'method', 'colocateWith'],
  'workers': ['recommendedConsumers'],
  'config': ['setting', 'value', 'slot', 'sql', 'command'],
  'dead-letter': ['command'],
  'query': ['queryid', 'query'],
  'cancel-backend': ['pid', 'backendStart', 'xactStart'],
  'terminate-backend': ['pid', 'backendStart', 'xactStart'],
}

/** JSON with sorted keys, so that the same fields in another order hash the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value ?? null)
}

/**
 * The id of a remedy: its kind, its identity fields, and the target it acts on (the same index on two databases is
 * two remedies; the same index proposed by three findings on one database is one). When a remedy's identity fields
 * are all absent (a replica remedy with no SQL), its summary stands in so two different ones never collide.
 */
export function remedyId(remedy: {kind: RemedyKind; summary: string}, scope = ''): string {
  const fields = remedy as Record<string, unknown>
  const identity = Object.fromEntries(REMEDY_IDENTITY[remedy.kind].filter((k) => fields[k] !== undefined).map((k) => [k, fields[k]]))
  const basis = Object.keys(identity).length > 0 ? identity : {summary: remedy.summary}
  return `${remedy.kind}-${createHash('sha256').update(`${remedy.kind}\u0000${scope}\u0000${canonical(basis)}`).digest('hex').slice(0, 12)}`
}

/** Gives a proposed remedy its id and the applier the registry names for its kind. */
export function finishRemedy(proposed: ProposedRemedy, applierFor: (kind: RemedyKind, where?: {targetKind?: string; rule?: string; remedy?: ProposedRemedy}) => string | null, scope = '',
  where: {targetKind?: string; rule?: string} = {}): Remedy {
  return {...proposed, id: remedyId(proposed, scope), applier: applierFor(proposed.kind, {...where, remedy: proposed})} as Remedy
}

/** The first remedy of a kind, typed as that kind: what tests, reporters and appliers use to read its fields. */
export function remedyOfKind<K extends RemedyKind>(remedies: readonly Remedy[], kind: K): Extract<Remedy, {kind: K}> | undefined {
  return remedies.find((r): r is Extract<Remedy, {kind: K}> => r.kind === kind)
}

/** Every remedy of a kind, typed as that kind. */
export function remediesOfKind<K extends RemedyKind>(remedies: readonly Remedy[], kind: K): Array<Extract<Remedy, {kind: K}>> {
  return remedies.filter((r): r is Extract<Remedy, {kind: K}> => r.kind === kind)
}
