/**
 * What the PostgreSQL appliers (index, drop-index) share: the write session (refusing a standby and a transaction
 * pooler), the advisory lock that serialises applies, lock_timeout escalation that names the blocking session, index
 * builds with progress and clean interruption, and the catalog and plan reads verification needs (docs/apply.md).
 */
import pg from 'pg'
import {parseSync, scanSync} from 'libpg-query'
import {ApplyRefusal, TargetMismatch, type ApplyContext, type ChangePlan, type PreflightResult} from '../core/applier.js'
import {positiveMs, sleep} from '../core/probe.js'
import {quoteIdent, quoteLiteral, quoteQualified} from '../core/sql.js'
import {connectClient, destroyClient, endClient, PgSession} from '../drivers/postgres.js'
import {explainStatement, plannable} from '../knowledge/postgres/plan.js'
import {safeQueryTextSync} from '../knowledge/postgres/query-text.js'
import {ensureParser} from '../knowledge/postgres/workload.js'

/**
 * The advisory lock every chokepoint apply takes on a database before it changes anything:
 * `pg_try_advisory_lock(1667788651, 1634758764)` (the ASCII of "chok" and "appl"). Advisory locks are per database,
 * so applies to two databases of one server do not wait for each other.
 */
export const APPLY_LOCK_KEY: readonly [number, number] = [1667788651, 1634758764]
/** How long a second apply waits for the lock before it refuses. */
export const APPLY_LOCK_WAIT_MS = 2000
/** The first lock_timeout of a step; each retry doubles it, until the step has waited --max-lock-wait in all. */
export const LOCK_TIMEOUT_START_MS = 100
/** How often the builder's progress and blockers are read on the second connection. */
export const POLL_MS = 200
/** Verification: the plan cost ratio after/before may exceed the predicted one by this factor (plus PLAN_COST_SLACK). */
export const PLAN_COST_TOLERANCE = 0.5
export const PLAN_COST_SLACK = 0.05
/** drop-index verification: a statement that used the dropped index may cost at most this much more (10%). */
export const NO_SLOWER_TOLERANCE = 0.1
/** --verify-window: a statement's mean time may grow by this much before verification fails, given MIN_WINDOW_CALLS. */
export const MEAN_TIME_TOLERANCE = 0.1
export const MIN_WINDOW_CALLS = 5
/** The verify window of the index and drop-index appliers when --verify-window is not given and there is traffic to watch. */
export const DEFAULT_VERIFY_WINDOW_MS = 60_000
/** Statements read from pg_stat_statements for verification, at most. */
export const MAX_VERIFY_STATEMENTS = 20

export const APPLICATION_NAME = 'chokepoint-apply'

/** A write session (statement_timeout off or capped) and a read-only monitor session beside it. */
export class PgApplySession {
  holdsLock = false
  constructor(
    public client: pg.Client,
    public monitor: PgSession,
    public pid: number,
    readonly database: string,
    readonly user: string,
    readonly url: string,
  ) {}

  /**
   * Takes over a fresh session's connections (after this one's were lost): the orchestrator and the later steps keep
   * the same object, so a rollback after a lost connection runs on live connections.
   */
  adopt(fresh: PgApplySession): void {
    this.client = fresh.client
    this.monitor = fresh.monitor
    this.pid = fresh.pid
    this.holdsLock = fresh.holdsLock
  }

  /** One statement on the write session. */
  async exec<T extends Record<string, any> = Record<string, any>>(sql: string, params?: unknown[]): Promise<T[]> {
    return (await this.client.query<T>(sql, params as unknown[])).rows
  }
}

export interface ApplyTableFacts {
  oid: number
  schema: string
  name: string
  relkind: string
  owner: string
  /** Whether current_user may create and drop indexes on it (owner, or member of the owning role). */
  owns: boolean
}

function settings(ctx: ApplyContext): string {
  const max = positiveMs((ctx.target.options ?? {}).applyStatementTimeoutMs)
  return `SET application_name = ${quoteLiteral(APPLICATION_NAME)}; SET statement_timeout = ${max ? Math.round(max) : 0};`
    + ` SET lock_timeout = ${LOCK_TIMEOUT_START_MS}; SET default_transaction_read_only = off; SET idle_in_transaction_session_timeout = 0;`
}

/**
 * Opens the write session of a PostgreSQL applier. Refuses a target that is not a PostgreSQL server (a pgbouncer
 * target), a standby, and a connection whose sessions do not stick (a pooler in transaction or statement mode:
 * another client's transaction was given this session's backend, or this session's backend changed).
 */
export async function openApplySession(ctx: ApplyContext): Promise<PgApplySession> {
  if (ctx.target.kind !== 'postgres') {
    throw new ApplyRefusal(`target "${ctx.target.name}" is a ${ctx.target.kind} target: PostgreSQL appliers connect to the server itself`, 'give the PostgreSQL server\'s own URL (--pg), not PgBouncer\'s')
  }
  const url = ctx.target.url
  ctx.secrets.redactUrl(url)
  const options = ctx.target.options ?? {}
  const client = await connectClient({
    connectionString: url,
    connectionTimeoutMillis: positiveMs(options.connectTimeoutMs) ?? 5000,
    application_name: APPLICATION_NAME,
  }, 'PostgreSQL', ctx.signal)
  let monitor: PgSession | undefined
  try {
    const results = (await client.query(`${settings(ctx)} SELECT pg_backend_pid() AS pid, pg_is_in_recovery() AS standby, current_database() AS db, current_user AS "user"`)) as unknown as pg.QueryResult[]
    const facts = Array.isArray(results) ? results[results.length - 1]?.rows[0] : undefined
    if (!facts) throw new ApplyRefusal(`target "${ctx.target.name}" did not answer the session setup like PostgreSQL`)
    await checkSystemIdentifier(ctx, client)
    if (facts.standby) {
      throw new ApplyRefusal(`target "${ctx.target.name}" is a standby (pg_is_in_recovery()): indexes are changed on the primary, and reach standbys by replication`, 'give the primary\'s URL')
    }
    monitor = await PgSession.open(url, {statementTimeoutMs: 10_000, lockTimeoutMs: 1000, connectTimeoutMs: options.connectTimeoutMs as number | undefined})
    // A pooler in transaction (or statement) mode hands a backend to whichever client starts a transaction: while
    // the monitor holds a transaction open, it must not have been given our backend, and ours must not have moved.
    // Each round is conclusive only one way (a pool may hand out backends round-robin), so three are made.
    for (let round = 0; round < 3; round++) {
      const [began] = await monitor.multi('BEGIN; SELECT pg_backend_pid() AS pid').then((r) => r.slice(-1))
      const otherPid = Number(began.rows[0].pid)
      const again = Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)
      await monitor.query('ROLLBACK')
      if (otherPid === Number(facts.pid) || again !== Number(facts.pid)) {
        throw new ApplyRefusal(`target "${ctx.target.name}" is reached through a pooler in transaction mode (the session's backend changed between transactions): session settings and the apply lock would not stick`, 'give the PostgreSQL server\'s own URL, not PgBouncer\'s')
      }
    }
    return new PgApplySession(client, monitor, Number(facts.pid), facts.db, facts.user, url)
  } catch (error) {
    await monitor?.close().catch(() => {})
    await endClient(client)
    if (/use SHOW HELP|unsupported pkt type|not allowed/i.test((error as Error)?.message ?? '')) {
      throw new ApplyRefusal(`target "${ctx.target.name}" answers like PgBouncer, not PostgreSQL`, 'give the PostgreSQL server\'s own URL')
    }
    throw error
  }
}

/**
 * Refuses a server whose system identifier (pg_control_system()) is not the one the report recorded: another cluster
 * now answers at the report's address (re-created, restored, failed over to a new one). A streaming standby shares its
 * primary's identifier, so this does not tell them apart; the standby check does. A report without the fact (older
 * than chokepoint recording it, or audited by a role that may not run pg_control_system()) is said, not refused, and
 * so is a live server whose identifier this role cannot read; an applier called without a report (tests) checks nothing.
 */
export async function checkSystemIdentifier(ctx: ApplyContext, client: pg.Client): Promise<void> {
  if (!ctx.audited) return
  const recorded = ctx.audited.facts?.systemIdentifier
  if (recorded === undefined || recorded === null || recorded === '') {
    ctx.log(`target "${ctx.target.name}": system identifier not checked: the report predates system identifiers (or its role could not read pg_control_system())`)
    return
  }
  let live: string
  try {
    live = String((await client.query('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0].id)
  } catch (error) {
    if ((error as {code?: string})?.code !== '42501') throw error
    ctx.log(`target "${ctx.target.name}": system identifier not checked: this role may not run pg_control_system() (GRANT EXECUTE ON FUNCTION pg_control_system() TO it)`)
    return
  }
  if (String(recorded) !== live) {
    throw new TargetMismatch(`target "${ctx.target.name}" is PostgreSQL system ${live} now, but the report audited system ${String(recorded)} (pg_control_system()): another cluster answers at ${ctx.audited.url}; refusing to apply its remedies here (audit it again)`)
  }
}

export async function closeApplySession(session: PgApplySession): Promise<void> {
  await session.monitor.close().catch(() => {})
  await endClient(session.client)
}


const lockArgs = `${APPLY_LOCK_KEY[0]}, ${APPLY_LOCK_KEY[1]}`

/** Who else holds the apply lock on this database (undefined when nobody, or this session). */
export async function applyLockHolder(session: PgApplySession): Promise<string | undefined> {
  const rows = await session.monitor.query(`SELECT l.pid, a.application_name, a.usename, a.backend_start
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ${APPLY_LOCK_KEY[0]}::int8::oid AND l.objid = ${APPLY_LOCK_KEY[1]}::int8::oid AND l.objsubid = 2 AND l.pid <> $1 LIMIT 1`, [session.pid])
  const r = rows[0]
  if (!r) return undefined
  return `pid ${r.pid}${r.usename ? `, user ${r.usename}` : ''}${r.application_name ? `, application ${JSON.stringify(r.application_name)}` : ''}${r.backend_start ? `, connected since ${new Date(r.backend_start).toISOString()}` : ''}`
}

/** A preflight's refusal while another apply holds the lock on this database, or undefined when none does. */
export async function applyLockRefusal(session: PgApplySession): Promise<{ok: false; reason: string; fix: string} | undefined> {
  const holder = await applyLockHolder(session)
  return holder ? {ok: false, reason: `another chokepoint apply is running on database "${session.database}" (${holder})`, fix: 'wait for it to finish'} : undefined
}

/**
 * The start of every apply: take the lock, then check the plan again under it (what the dry run saw may have changed
 * since), refusing with the preflight's reason.
 */
export async function lockAndRecheck(plan: ChangePlan, session: PgApplySession, ctx: ApplyContext,
  preflight: (plan: ChangePlan, session: PgApplySession, ctx: ApplyContext) => Promise<PreflightResult>): Promise<void> {
  await takeApplyLock(session, ctx)
  const pre = await preflight(plan, session, ctx)
  if (!pre.ok) throw new ApplyRefusal(pre.reason, pre.fix)
}

/** Takes the apply lock (once per session): waits APPLY_LOCK_WAIT_MS at most, then refuses naming the holder. */
export async function takeApplyLock(session: PgApplySession, ctx: ApplyContext): Promise<void> {
  if (session.holdsLock) return
  const deadline = Date.now() + APPLY_LOCK_WAIT_MS
  for (;;) {
    const [row] = await session.exec(`SELECT pg_try_advisory_lock(${lockArgs}) AS ok`)
    if (row.ok) {
      session.holdsLock = true
      return
    }
    if (Date.now() >= deadline || ctx.signal.aborted) break
    await sleep(100, ctx.signal)
  }
  const holder = await applyLockHolder(session)
  throw new ApplyRefusal(`another chokepoint apply is running on database "${session.database}" (${holder ?? 'holder gone'}): it holds the apply lock`, 'wait for it to finish, then run apply again')
}

export async function releaseApplyLock(session: PgApplySession): Promise<void> {
  if (!session.holdsLock) return
  await session.exec(`SELECT pg_advisory_unlock(${lockArgs})`).catch(() => {})
  session.holdsLock = false
}

/** The table a remedy names, as the server resolves it now; undefined when it no longer exists. */
export async function tableFacts(session: PgApplySession, qualified: string): Promise<ApplyTableFacts | undefined> {
  const rows = await session.monitor.query(`SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
      pg_get_userbyid(c.relowner) AS owner, pg_has_role(c.relowner, 'USAGE') AS owns
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`, [qualified])
  const r = rows[0]
  return r ? {oid: Number(r.oid), schema: r.schema, name: r.name, relkind: r.relkind, owner: r.owner, owns: r.owns} : undefined
}

/** The one-line refusal for a table current_user does not own. */
export function ownershipRefusal(session: PgApplySession, table: ApplyTableFacts, what: string): {reason: string; fix: string} {
  return {
    reason: `${session.user} may not ${what} on ${quoteQualified(table.schema, table.name)}: that needs the table's owner (${table.owner}) or a member of its role`,
    fix: `GRANT ${quoteIdent(table.owner)} TO ${quoteIdent(session.user)};`,
  }
}

export interface IndexFacts {
  oid: number
  schema: string
  name: string
  valid: boolean
  ready: boolean
  unique: boolean
  primary: boolean
  constraint: string | null
  definition: string
  relkind: string
  tableOid: number
}

const INDEX_FACTS = `SELECT i.indexrelid::int8 AS oid, n.nspname AS schema, c.relname AS name, i.indisvalid AS valid, i.indisready AS ready,
    i.indisunique AS "unique", i.indisprimary AS "primary", c.relkind::text AS relkind, i.indrelid::int8 AS table_oid,
    (SELECT con.conname FROM pg_constraint con WHERE con.conindid = i.indexrelid LIMIT 1) AS constraint,
    pg_get_indexdef(i.indexrelid) AS definition
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace`

function indexRow(r: Record<string, any>): IndexFacts {
  return {oid: Number(r.oid), schema: r.schema, name: r.name, valid: r.valid, ready: r.ready, unique: r.unique, primary: r.primary,
    constraint: r.constraint ?? null, definition: r.definition, relkind: r.relkind, tableOid: Number(r.table_oid)}
}

export async function indexesOfTable(session: PgApplySession, tableOid: number): Promise<IndexFacts[]> {
  return (await session.monitor.query(`${INDEX_FACTS} WHERE i.indrelid = $1::int8::oid ORDER BY c.relname`, [tableOid])).map(indexRow)
}

export async function indexByName(session: PgApplySession, qualified: string): Promise<IndexFacts | undefined> {
  const rows = await session.monitor.query(`${INDEX_FACTS} WHERE i.indexrelid = to_regclass($1)`, [qualified])
  return rows[0] ? indexRow(rows[0]) : undefined
}

/** Whether any relation of that name exists in the schema (an index name is unique per schema, with tables). */
export async function relationExists(session: PgApplySession, schema: string, name: string): Promise<boolean> {
  const rows = await session.monitor.query('SELECT to_regclass($1) IS NOT NULL AS ok', [quoteQualified(schema, name)])
  return Boolean(rows[0]?.ok)
}

// ---------------------------------------------------------------------------------------------------------------
// Index definitions, read with the server's parser

export interface IndexDefinition {
  name: string | null
  schema: string | null
  table: string
  unique: boolean
  /** Everything after the table name: `USING btree ("a") WHERE ...`, as the text had it. */
  rest: string
  /** The definition without name, schema, CONCURRENTLY or casts: two definitions with the same key build the same index. */
  key: string
}

function strip(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strip)
  if (!node || typeof node !== 'object') return node
  const n = node as Record<string, any>
  if (n.TypeCast) return strip(n.TypeCast.arg)
  const out: Record<string, any> = {}
  for (const [k, v] of Object.entries(n)) if (!['location', 'idxname', 'concurrent', 'relation', 'if_not_exists'].includes(k)) out[k] = strip(v)
  return out
}

/** Reads one CREATE INDEX statement; throws when the text is anything else (two statements, another command). */
export async function parseIndexDefinition(sql: string): Promise<IndexDefinition> {
  await ensureParser()
  const text = sql.trim().replace(/;\s*$/, '')
  let tree
  try {
    tree = parseSync(text)
  } catch (error) {
    throw new Error(`the index definition does not parse: ${(error as Error).message}`)
  }
  const stmts = tree.stmts ?? []
  const stmt = (stmts[0]?.stmt as Record<string, any> | undefined)?.IndexStmt
  if (stmts.length !== 1 || !stmt) throw new Error('the remedy\'s SQL is not one CREATE INDEX statement')
  const bytes = Buffer.from(text, 'utf8')
  // The table name ends where USING or the column list begins (a quoted name is one token, so "(" inside it is no match).
  const tokenText = (t: {start: number; end: number}) => bytes.subarray(t.start, t.end).toString('utf8')
  const next = scanSync(text).tokens.find((t) => t.start > stmt.relation.location && (tokenText(t) === '(' || tokenText(t).toUpperCase() === 'USING'))
  if (!next) throw new Error('the index definition has no column list')
  const rest = bytes.subarray(next.start).toString('utf8').trim()
  return {
    name: stmt.idxname ?? null,
    schema: stmt.relation.schemaname ?? null,
    table: stmt.relation.relname,
    unique: Boolean(stmt.unique),
    rest,
    key: JSON.stringify(strip(stmt)),
  }
}

/** CREATE INDEX [CONCURRENTLY] "name" ON [ONLY] "schema"."table" <rest>: every identifier quoted. */
export function createIndexSql(name: string, schema: string, table: string, rest: string, opts: {concurrently: boolean; only?: boolean}): string {
  return `CREATE INDEX${opts.concurrently ? ' CONCURRENTLY' : ''} ${quoteIdent(name)} ON ${opts.only ? 'ONLY ' : ''}${quoteQualified(schema, table)} ${rest}`
}

export function dropIndexSql(schema: string, name: string, concurrently = true): string {
  return `DROP INDEX${concurrently ? ' CONCURRENTLY' : ''} IF EXISTS ${quoteQualified(schema, name)}`
}

/** Whether an existing index (pg_get_indexdef) builds the same index as a definition's key. */
export async function sameDefinition(existing: string, key: string): Promise<boolean> {
  try {
    return (await parseIndexDefinition(existing)).key === key
  } catch {
    return false
  }
}

/** A name within PostgreSQL's 63 bytes. */
export function fitName(name: string): string {
  let out = name
  while (Buffer.byteLength(out, 'utf8') > 63) out = out.slice(0, -1)
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// Steps under lock_timeout escalation, watched from the monitor session

export class LockGiveUp extends ApplyRefusal {
  constructor(message: string, fix: string | undefined, readonly blockers: number[]) {
    super(message, fix)
    this.name = 'LockGiveUp'
  }
}

/** The step was interrupted (Ctrl-C, the backend cancelled or terminated, the connection lost). */
export class StepInterrupted extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message)
    this.name = 'StepInterrupted'
  }
}

export function pgCode(error: unknown): string | undefined {
  return (error as {code?: string})?.code
}

const isLockTimeout = (error: unknown) => pgCode(error) === '55P03'

/** A lost connection, a cancelled or terminated backend, a server shutting down. */
export function isInterruption(error: unknown): boolean {
  const code = pgCode(error)
  if (code === '57014') return !/statement timeout/i.test((error as Error).message)
  if (code && /^57P0/.test(code)) return true
  return !code && /Connection terminated|ECONNRESET|EPIPE|not queryable|Client was closed|connection/i.test((error as Error)?.message ?? '')
}

/** Sessions named in one line each, without their query texts (which may hold secrets). */
export async function describeSessions(session: PgApplySession, pids: number[]): Promise<string> {
  if (pids.length === 0) return 'no blocking session seen'
  const rows = await session.monitor.query(`SELECT pid, usename, application_name, state, backend_type,
      round(extract(epoch FROM now() - xact_start))::int AS xact_seconds
    FROM pg_stat_activity WHERE pid = ANY($1::int[]) ORDER BY pid`, [pids]).catch(() => [])
  const described = rows.map((r) => `pid ${r.pid} (${[r.usename && `user ${r.usename}`, r.application_name && `application ${JSON.stringify(r.application_name)}`,
    r.state, r.xact_seconds !== null && r.xact_seconds !== undefined ? `in a transaction for ${r.xact_seconds} s` : undefined].filter(Boolean).join(', ')})`)
  const gone = pids.filter((p) => !rows.some((r) => Number(r.pid) === p)).map((p) => `pid ${p} (gone)`)
  return [...described, ...gone].join('; ')
}

/** Sessions holding a lock on the table that conflicts with SHARE UPDATE EXCLUSIVE (what CONCURRENTLY takes). */
async function tableLockHolders(session: PgApplySession, tableOid: number | undefined): Promise<number[]> {
  if (!tableOid) return []
  const rows = await session.monitor.query(`SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'relation' AND relation = $1::int8::oid AND granted
      AND mode IN ('ShareUpdateExclusiveLock', 'ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock') AND pid <> $2`, [tableOid, session.pid]).catch(() => [])
  return rows.map((r) => Number(r.pid))
}

export interface StepOptions {
  /** Named in progress lines and in the give-up. */
  label: string
  /** The table the step locks: the give-up names the sessions holding conflicting locks on it. */
  tableOid?: number
  /** Read the build's progress from pg_stat_progress_create_index. */
  progress?: boolean
  /** After a lock timeout, before the next try (drops the INVALID index the failed try left). */
  afterTimeout?: () => Promise<void>
  /** How much of --max-lock-wait is left (a step shares it with the ones before it). */
  budget: {waitedMs: number}
}

/**
 * Runs one statement on the write session under lock_timeout escalation: LOCK_TIMEOUT_START_MS, doubled after each
 * lock timeout, until the step has waited ctx.options.maxLockWaitMs in all; then gives up naming the blocking
 * sessions (pg_blocking_pids of the builder, seen while it waited, and the holders of conflicting locks on the table).
 * While it runs, the monitor session reads its progress and its blockers, and cancels it when ctx.signal aborts.
 */
export async function runStep(session: PgApplySession, ctx: ApplyContext, sql: string, opts: StepOptions): Promise<void> {
  try {
    await runTries(session, ctx, sql, opts)
  } catch (error) {
    // The connection can also go between tries (setting lock_timeout, dropping a timed-out try's leftover): named the same.
    if (error instanceof StepInterrupted || error instanceof ApplyRefusal || !isInterruption(error)) throw error
    throw new StepInterrupted(`${opts.label}: ${(error as Error).message}`, error)
  }
}

async function runTries(session: PgApplySession, ctx: ApplyContext, sql: string, opts: StepOptions): Promise<void> {
  const max = Math.max(LOCK_TIMEOUT_START_MS, ctx.options.maxLockWaitMs)
  let timeout = LOCK_TIMEOUT_START_MS
  for (let attempt = 1; ; attempt++) {
    if (ctx.signal.aborted) throw new StepInterrupted(`${opts.label}: interrupted before it started`)
    const thisTimeout = Math.max(1, Math.min(timeout, max - opts.budget.waitedMs))
    await session.exec(`SET lock_timeout = ${Math.round(thisTimeout)}`)
    const blockers = new Set<number>()
    const watch = watchBuilder(session, ctx, opts, blockers)
    try {
      await session.exec(sql)
      return
    } catch (error) {
      if (isLockTimeout(error)) {
        opts.budget.waitedMs += thisTimeout
        const seen = [...blockers]
        if (opts.budget.waitedMs >= max) {
          const pids = [...new Set([...seen, ...(await tableLockHolders(session, opts.tableOid))])]
          await opts.afterTimeout?.()
          const who = await describeSessions(session, pids)
          throw new LockGiveUp(`${opts.label}: gave up after ${attempt} tries and ${opts.budget.waitedMs} ms waiting for a lock (--max-lock-wait ${max} ms); blocked by ${who}`,
            pids.length ? `wait for ${pids.map((p) => `pid ${p}`).join(', ')} to finish (or end it: SELECT pg_cancel_backend(${pids[0]});), then apply again` : 'apply again when the table is quieter', pids)
        }
        timeout = Math.min(timeout * 2, max)
        ctx.log(`${opts.label}: lock not granted within ${thisTimeout} ms (try ${attempt}${seen.length ? `, blocked by pid ${seen.join(', ')}` : ''}); retrying with lock_timeout ${Math.round(Math.min(timeout, max - opts.budget.waitedMs))} ms`)
        await opts.afterTimeout?.()
        await sleep(50, ctx.signal)
        continue
      }
      if (ctx.signal.aborted) throw new StepInterrupted(`${opts.label}: interrupted (the build was cancelled)`, error)
      if (isInterruption(error)) throw new StepInterrupted(`${opts.label}: ${pgCode(error) === '57014' ? 'the backend was cancelled' : (error as Error).message}`, error)
      throw error
    } finally {
      await watch.stop()
    }
  }
}

/** Polls the builder's blockers and progress on the monitor session; cancels the builder when ctx.signal aborts. */
function watchBuilder(session: PgApplySession, ctx: ApplyContext, opts: StepOptions, blockers: Set<number>): {stop(): Promise<void>} {
  let stopped = false
  const cancel = () => {
    session.monitor.query('SELECT pg_cancel_backend($1)', [session.pid]).catch(() => {})
  }
  ctx.signal.addEventListener('abort', cancel, {once: true})
  const stopSignal = new AbortController()
  const loop = (async () => {
    let lastPhase = ''
    while (!stopped) {
      await sleep(POLL_MS, stopSignal.signal)
      if (stopped) break
      try {
        const [r] = await session.monitor.query(`SELECT pg_blocking_pids($1) AS blockers, p.phase, p.blocks_done::int8 AS blocks_done, p.blocks_total::int8 AS blocks_total,
            p.tuples_done::int8 AS tuples_done, p.tuples_total::int8 AS tuples_total
          FROM (SELECT 1) x LEFT JOIN pg_stat_progress_create_index p ON p.pid = $1`, [session.pid])
        for (const pid of r?.blockers ?? []) blockers.add(Number(pid))
        if (opts.progress && r?.phase) {
          const blocksTotal = Number(r.blocks_total)
          const tuplesTotal = Number(r.tuples_total)
          if (blocksTotal > 0) ctx.progress({phase: r.phase, done: Number(r.blocks_done), total: blocksTotal, unit: 'blocks'})
          else if (tuplesTotal > 0) ctx.progress({phase: r.phase, done: Number(r.tuples_done), total: tuplesTotal, unit: 'tuples'})
          else if (r.phase !== lastPhase) ctx.progress({phase: r.phase})
          lastPhase = r.phase
        }
      } catch {
        // The monitor is best effort: the step itself decides the outcome.
      }
    }
  })()
  return {
    async stop() {
      stopped = true
      stopSignal.abort()
      ctx.signal.removeEventListener('abort', cancel)
      await loop
    },
  }
}

/**
 * The session to clean up with: this one while its write connection answers; when that is gone (a lost connection,
 * a terminated backend, a restarted server) fresh connections, taken over by this session (adopt) so every later
 * step uses them too; undefined when the server cannot be reached.
 */
export async function cleanupSession(session: PgApplySession, ctx: ApplyContext): Promise<PgApplySession | undefined> {
  try {
    await session.exec('SELECT 1')
    return session
  } catch {
    destroyClient(session.client)
  }
  try {
    const fresh = await openApplySession({...ctx, signal: new AbortController().signal})
    await takeApplyLock(fresh, ctx).catch(() => {})
    await session.monitor.close().catch(() => {})
    session.adopt(fresh)
    ctx.log(`reconnected to ${ctx.target.name} (a fresh session) to clean up`)
    return session
  } catch {
    return undefined
  }
}

/**
 * Drops an index (CONCURRENTLY unless partitioned) under lock_timeout escalation with a fresh budget, on a session
 * that still works. Resolves to the statement sent, or throws.
 */
export async function dropIndexStep(session: PgApplySession, ctx: ApplyContext, schema: string, name: string, opts: {partitioned?: boolean; tableOid?: number; label?: string; budget?: {waitedMs: number}} = {}): Promise<string> {
  const sql = dropIndexSql(schema, name, !opts.partitioned)
  await runStep(session, {...ctx, signal: new AbortController().signal}, sql, {label: opts.label ?? `drop ${quoteQualified(schema, name)}`, tableOid: opts.tableOid, budget: opts.budget ?? {waitedMs: 0}})
  return sql
}

// ---------------------------------------------------------------------------------------------------------------
// Statements and their plans

export interface VerifyStatement {
  id: string
  /** The text made safe to store (constants as $n), from pg_stat_statements or the finding. */
  sql: string
  costBefore?: number
  usedIndexBefore?: boolean
  calls?: number
  meanMs?: number
  error?: string
}

/** Whether pg_stat_statements is readable in this database. */
async function hasStatements(session: PgApplySession): Promise<boolean> {
  return session.monitor.hasExtension('pg_stat_statements').catch(() => false)
}

/** The texts of the given queryids (pg_stat_statements, then the finding's evidence), made safe; bounded. */
export async function statementTexts(session: PgApplySession, ctx: ApplyContext, ids: string[]): Promise<VerifyStatement[]> {
  await ensureParser()
  const wanted = ids.slice(0, MAX_VERIFY_STATEMENTS)
  const found = new Map<string, VerifyStatement>()
  if (wanted.length > 0 && await hasStatements(session)) {
    const rows = await session.monitor.query(`SELECT queryid::text AS id, query, calls::int8 AS calls, mean_exec_time AS mean_ms FROM pg_stat_statements
      WHERE queryid::text = ANY($1::text[]) AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel`, [wanted]).catch(() => [])
    for (const r of rows) if (!found.has(r.id) && r.query !== '<insufficient privilege>') found.set(r.id, {id: r.id, sql: r.query, calls: Number(r.calls), meanMs: Number(r.mean_ms)})
  }
  const evidence = ctx.finding?.evidence ?? {}
  if (typeof evidence.queryid === 'string' && typeof evidence.sql === 'string' && wanted.includes(evidence.queryid) && !found.has(evidence.queryid)) {
    found.set(evidence.queryid, {id: evidence.queryid, sql: evidence.sql})
  }
  const out: VerifyStatement[] = []
  for (const s of found.values()) {
    const safe = safeQueryTextSync(s.sql)
    if (safe.treatment === 'normalised') out.push({...s, sql: safe.text})
  }
  return out
}

/** The statements of this database that name a table, busiest first (for drop-index: which of them used the index). */
export async function statementsOnTable(session: PgApplySession, schema: string, table: string): Promise<VerifyStatement[]> {
  if (!await hasStatements(session)) return []
  await ensureParser()
  const rows = await session.monitor.query(`SELECT queryid::text AS id, query, calls::int8 AS calls, mean_exec_time AS mean_ms FROM pg_stat_statements
    WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel AND query ILIKE $1 AND query NOT LIKE '/* chokepoint */%'
    ORDER BY total_exec_time DESC LIMIT 200`, [`%${table.replace(/[\\%_]/g, (c) => `\\${c}`)}%`]).catch(() => [])
  const out: VerifyStatement[] = []
  for (const r of rows) {
    const safe = safeQueryTextSync(r.query)
    if (safe.treatment !== 'normalised') continue
    try {
      await plannable(safe.text)
    } catch {
      continue
    }
    out.push({id: r.id, sql: safe.text, calls: Number(r.calls), meanMs: Number(r.mean_ms)})
    if (out.length >= MAX_VERIFY_STATEMENTS) break
  }
  return out
}

function planIndexNames(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) planIndexNames(n, out)
  else if (node && typeof node === 'object') {
    const n = node as Record<string, any>
    if (typeof n['Index Name'] === 'string') out.add(n['Index Name'])
    for (const v of Object.values(n)) if (v && typeof v === 'object') planIndexNames(v, out)
  }
  return out
}

/** The plain EXPLAIN of a statement on the monitor session: its cost and whether it reads one of the named indexes. */
export async function explainUses(session: PgApplySession, sql: string, indexNames: string[]): Promise<{cost: number; uses: boolean}> {
  const result = await explainStatement(session.monitor, await plannable(sql))
  const names = planIndexNames(result.plan)
  return {cost: result.cost, uses: indexNames.some((n) => names.has(n))}
}

/** pg_stat_statements calls and total time of some statements now (for --verify-window). */
export async function statementCounters(session: PgApplySession, ids: string[]): Promise<Map<string, {calls: number; totalMs: number}>> {
  const out = new Map<string, {calls: number; totalMs: number}>()
  if (ids.length === 0) return out
  const rows = await session.monitor.query(`SELECT queryid::text AS id, sum(calls)::int8 AS calls, sum(total_exec_time) AS total_ms FROM pg_stat_statements
    WHERE queryid::text = ANY($1::text[]) AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) GROUP BY 1`, [ids]).catch(() => [])
  for (const r of rows) out.set(r.id, {calls: Number(r.calls), totalMs: Number(r.total_ms)})
  return out
}

/**
 * How long the index and drop-index appliers watch live traffic after the change: --verify-window when given (0 skips),
 * else DEFAULT_VERIFY_WINDOW_MS when one of the statements was called before (pg_stat_statements has calls for it):
 * a plan that looks right can still be slower on real data, and only traffic shows it. Nothing to watch: 0.
 */
export function verifyWindowFor(ctx: ApplyContext, statements: VerifyStatement[]): number {
  if (statements.length === 0) return 0
  if (ctx.options.verifyWindowMs !== undefined) return ctx.options.verifyWindowMs
  return statements.some((s) => (s.calls ?? 0) > 0) ? DEFAULT_VERIFY_WINDOW_MS : 0
}

/**
 * --verify-window: mean time of the statements over the window (from pg_stat_statements deltas) against their mean
 * before (as read when the change was planned). Fails when one slowed down by more than MEAN_TIME_TOLERANCE over at
 * least MIN_WINDOW_CALLS calls; a statement called fewer times in the window is reported, not judged, and a window
 * that sees no calls at all is "not judged", not a failure.
 */
export async function watchWindow(session: PgApplySession, ctx: ApplyContext, statements: VerifyStatement[], windowMs: number): Promise<{ok: boolean; detail: string; measured: Array<Record<string, unknown>>}> {
  const ids = statements.map((s) => s.id)
  const seconds = formatSeconds(windowMs)
  const start = await statementCounters(session, ids)
  ctx.log(`watching ${ids.length} statement(s) for ${seconds} s (--verify-window 0 skips)`)
  await sleep(windowMs, ctx.signal)
  if (ctx.signal.aborted) throw new Error('verification interrupted')
  const end = await statementCounters(session, ids)
  const measured: Array<Record<string, unknown>> = []
  const slower: string[] = []
  const judged: string[] = []
  for (const s of statements) {
    const a = start.get(s.id)
    const b = end.get(s.id)
    const calls = a && b ? b.calls - a.calls : 0
    const meanAfter = calls > 0 ? (b!.totalMs - a!.totalMs) / calls : null
    const isJudged = meanAfter !== null && s.meanMs !== undefined && calls >= MIN_WINDOW_CALLS
    measured.push({id: s.id, meanMsBefore: s.meanMs ?? null, meanMsAfter: meanAfter, callsInWindow: calls, judged: isJudged})
    if (!isJudged) continue
    const said = `${s.id} mean ${s.meanMs!.toFixed(3)} -> ${meanAfter!.toFixed(3)} ms over ${calls} calls`
    if (meanAfter! > s.meanMs! * (1 + MEAN_TIME_TOLERANCE)) slower.push(said)
    else judged.push(said)
  }
  const called = measured.filter((m) => Number(m.callsInWindow) > 0).length
  const listed = (items: string[]) => `${items.slice(0, 5).join('; ')}${items.length > 5 ? `; and ${items.length - 5} more` : ''}`
  if (slower.length) return {ok: false, measured, detail: `slower over the ${seconds} s window (tolerance ${MEAN_TIME_TOLERANCE * 100}%): ${listed(slower)}`}
  if (judged.length === 0) {
    return {ok: true, measured, detail: `mean time not judged: ${called === 0 ? 'no statement was called' : `${called} statement(s) called fewer than ${MIN_WINDOW_CALLS} times`} in the ${seconds} s window`}
  }
  return {ok: true, measured, detail: `over the ${seconds} s window, none slower: ${listed(judged)}`}
}

/** The plan's note about the window verification will watch, or nothing when it will not. */
export function verifyWindowNote(ctx: ApplyContext, statements: VerifyStatement[]): string[] {
  const windowMs = verifyWindowFor(ctx, statements)
  return windowMs > 0 ? [`verification watches ${statements.length} statement(s) in pg_stat_statements for ${formatSeconds(windowMs)} s after the change (--verify-window 0 skips)`] : []
}

function formatSeconds(ms: number): string {
  return String(Math.round(ms / 100) / 10)
}

// ---------------------------------------------------------------------------------------------------------------
// Building an index, and cleaning up after a build that did not finish

/** Drops an index of that name if it exists and is INVALID (a failed build's leftover); whether it did. */
async function dropIfInvalid(session: PgApplySession, ctx: ApplyContext, schema: string, name: string, tableOid: number | undefined, budget: {waitedMs: number}): Promise<boolean> {
  const found = await indexByName(session, quoteQualified(schema, name))
  if (!found || found.valid) return false
  // The same budget as the build: a writer that keeps the build waiting keeps the drop waiting too.
  await dropIndexStep(session, ctx, schema, name, {tableOid, budget})
  return true
}

/**
 * Drops the indexes an unfinished change created (those of `names` that exist now; each was refused beforehand if
 * it existed), on the write session or, when that is gone, on a fresh one. Returns what it says about it: dropped,
 * or why not (the journal still records them, so `recover` drops them on the next apply).
 */
export async function cleanUp(session: PgApplySession, ctx: ApplyContext, names: Array<{schema: string; name: string; partitioned?: boolean; tableOid?: number}>): Promise<{ok: boolean; said: string; statements: string[]; session?: PgApplySession; unreachable?: boolean}> {
  const usable = await cleanupSession(session, ctx)
  if (!usable) return {ok: false, unreachable: true, said: `could not reconnect to drop ${names.map((n) => quoteQualified(n.schema, n.name)).join(', ')}: the journal records them and the next apply drops them first`, statements: []}
  const dropped: string[] = []
  const statements: string[] = []
  try {
    for (const n of names) {
      const found = await indexByName(usable, quoteQualified(n.schema, n.name))
      if (!found) continue
      statements.push(await dropIndexStep(usable, ctx, n.schema, n.name, {partitioned: n.partitioned || found.relkind === 'I', tableOid: n.tableOid}))
      dropped.push(`${found.valid ? '' : 'INVALID '}index ${quoteQualified(n.schema, n.name)}`)
    }
  } catch (error) {
    return {ok: false, said: `${dropped.length ? `dropped the ${dropped.join(', ')}, but ` : ''}could not drop the rest (${(error as Error).message}): the journal records them and the next apply drops them first`, statements, session: usable}
  }
  return {ok: true, said: dropped.length ? `dropped the ${dropped.join(', ')} it left` : 'no index was left behind', statements, session: usable}
}

export interface BuildStep {
  schema: string
  name: string
  sql: string
  tableOid: number
  /** Progress from pg_stat_progress_create_index (CONCURRENTLY builds of one table). */
  progress: boolean
}

/**
 * Runs one CREATE INDEX under lock_timeout escalation; a try that timed out on a lock may have left an INVALID
 * index (CONCURRENTLY creates the catalog entry before it waits for older transactions), which is dropped before the
 * next try.
 */
export async function buildIndexStep(session: PgApplySession, ctx: ApplyContext, step: BuildStep, budget: {waitedMs: number}): Promise<void> {
  await runStep(session, ctx, step.sql, {
    label: `create index ${quoteQualified(step.schema, step.name)}`,
    tableOid: step.tableOid,
    progress: step.progress,
    budget,
    afterTimeout: async () => {
      if (await dropIfInvalid(session, ctx, step.schema, step.name, step.tableOid, budget)) ctx.log(`dropped the INVALID index ${quoteQualified(step.schema, step.name)} the timed-out try left`)
    },
  })
}

/** The table of a given oid, as tableFacts. */
export async function tableFactsByOid(session: PgApplySession, oid: number): Promise<ApplyTableFacts | undefined> {
  const [r] = await session.monitor.query('SELECT $1::int8::oid::regclass::text AS name', [oid]).catch(() => [])
  return r ? tableFacts(session, r.name) : undefined
}
