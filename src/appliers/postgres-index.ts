/**
 * The index applier: carries out an `index` remedy on PostgreSQL with CREATE INDEX CONCURRENTLY (per partition,
 * then CREATE INDEX ON ONLY the parent and ATTACH PARTITION, on a partitioned table), verifies that the index is
 * valid and that the statements it was proposed for now use it at the predicted cost, and rolls it back with
 * DROP INDEX CONCURRENTLY (docs/apply.md, "index applier").
 */
import type {Applier, AppliedChange, ApplyContext, ChangePlan, ChangeRecord, PreflightResult, RollbackResult, Verification} from '../core/applier.js'
import {ApplyRefusal, ChangeLeftUnfinished} from '../core/applier.js'
import type {IndexRemedy, Remedy} from '../core/remedies.js'
import {parseQualifiedName, quoteIdent, quoteQualified} from '../core/sql.js'
import {
  applyLockRefusal, buildIndexStep, cleanUp, closeApplySession, createIndexSql, dropIndexSql, dropIndexStep, explainUses, fitName, indexByName, lockAndRecheck,
  indexesOfTable, openApplySession, ownershipRefusal, parseIndexDefinition, PLAN_COST_SLACK, PLAN_COST_TOLERANCE, runStep, statementTexts,
  tableFacts, takeApplyLock, verifyWindowFor, verifyWindowNote, watchWindow, type ApplyTableFacts, type PgApplySession, type VerifyStatement,
} from './postgres-session.js'

/** One index the change creates: the parent's, or a partition's. */
export interface IndexPart {
  schema: string
  table: string
  tableOid: number
  name: string
  /** A partitioned table (or parent) gets CREATE INDEX ON ONLY; a leaf gets CONCURRENTLY. */
  partitioned: boolean
  /** The index of the parent it is attached to. */
  attachTo?: {schema: string; name: string}
  depth: number
}

interface IndexDetails extends Record<string, unknown> {
  schema: string
  table: string
  tableOid: number | null
  name: string
  rest: string
  key: string
  partitioned: boolean
  parts: IndexPart[]
  leftovers: Array<{schema: string; name: string; tableOid: number; partitioned: boolean}>
  conflict: string | null
  unique: boolean
  verify: VerifyStatement[]
  predicted: {costBefore: number; costAfter: number} | null
}

/** What rollback and recover need: the indexes this change creates, parent last. */
export interface IndexUndo {
  kind: 'index'
  schema: string
  name: string
  tableOid: number | null
  partitioned: boolean
  parts: Array<{schema: string; name: string; partitioned: boolean; tableOid: number}>
}

function asIndexRemedy(remedy: Remedy): IndexRemedy {
  if (remedy.kind !== 'index') throw new ApplyRefusal(`the index applier carries out index remedies, not ${remedy.kind}`)
  return remedy
}

async function partitionTree(session: PgApplySession, table: ApplyTableFacts, name: string): Promise<IndexPart[]> {
  const rows = await session.monitor.query(`WITH RECURSIVE tree AS (
      SELECT inhrelid, inhparent, 1 AS depth FROM pg_inherits WHERE inhparent = $1::int8::oid
      UNION ALL SELECT i.inhrelid, i.inhparent, t.depth + 1 FROM pg_inherits i JOIN tree t ON i.inhparent = t.inhrelid)
    SELECT t.inhrelid::int8 AS oid, t.inhparent::int8 AS parent, t.depth, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind
    FROM tree t JOIN pg_class c ON c.oid = t.inhrelid JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY t.depth, c.relname LIMIT 10000`, [table.oid])
  const top: IndexPart = {schema: table.schema, table: table.name, tableOid: table.oid, name, partitioned: true, depth: 0}
  const byOid = new Map<number, IndexPart>([[table.oid, top]])
  const used = new Set<string>([name])
  const parts: IndexPart[] = [top]
  for (const r of rows) {
    if (r.relkind === 'f') throw new ApplyRefusal(`${quoteQualified(r.schema, r.name)} is a foreign table partition: its index cannot be built from here`)
    const parent = byOid.get(Number(r.parent))!
    let partName = fitName(`${name}_${r.name}`)
    for (let i = 2; used.has(partName); i++) partName = fitName(`${name}_${r.name}`.slice(0, 58) + `_${i}`)
    used.add(partName)
    const part: IndexPart = {schema: r.schema, table: r.name, tableOid: Number(r.oid), name: partName, partitioned: r.relkind === 'p',
      attachTo: {schema: parent.schema, name: parent.name}, depth: Number(r.depth)}
    byOid.set(part.tableOid, part)
    parts.push(part)
  }
  return parts
}

/**
 * The statements, in order: leftovers dropped; each leaf built CONCURRENTLY; then, deepest first, each partitioned
 * table's index ON ONLY it and its children's indexes attached (the parent's index becomes valid once all are).
 */
function buildStatements(d: IndexDetails): string[] {
  const out = d.leftovers.map((l) => dropIndexSql(l.schema, l.name, !l.partitioned))
  if (!d.partitioned) return [...out, createIndexSql(d.name, d.schema, d.table, d.rest, {concurrently: true})]
  for (const p of d.parts.filter((x) => !x.partitioned)) out.push(createIndexSql(p.name, p.schema, p.table, d.rest, {concurrently: true}))
  const levels = d.parts.filter((x) => x.partitioned).sort((a, b) => b.depth - a.depth)
  for (const p of levels) {
    out.push(createIndexSql(p.name, p.schema, p.table, d.rest, {concurrently: false, only: true}))
    for (const child of d.parts.filter((c) => c.attachTo?.schema === p.schema && c.attachTo.name === p.name)) {
      out.push(`ALTER INDEX ${quoteQualified(p.schema, p.name)} ATTACH PARTITION ${quoteQualified(child.schema, child.name)}`)
    }
  }
  return out
}

function rollbackStatements(d: {schema: string; name: string; partitioned: boolean}): string[] {
  // A partitioned index cannot be dropped CONCURRENTLY; dropping it drops its partitions' indexes too.
  return [dropIndexSql(d.schema, d.name, !d.partitioned)]
}

async function readDetails(remedy: IndexRemedy, session: PgApplySession, ctx: ApplyContext): Promise<IndexDetails> {
  const def = await parseIndexDefinition(remedy.sql)
  const named = remedy.table ? parseQualifiedName(remedy.table) : undefined
  if (remedy.table && !named) throw new ApplyRefusal(`the remedy's table ${JSON.stringify(remedy.table)} is not a table name`)
  if (named && (named[named.length - 1] !== def.table || (def.schema && named.length > 1 && named[named.length - 2] !== def.schema))) {
    throw new ApplyRefusal(`the remedy's SQL creates an index on ${quoteQualified(def.schema, def.table)}, not on ${remedy.table}`)
  }
  const qualified = named ? named.map(quoteIdent).join('.') : quoteQualified(def.schema, def.table)
  const table = await tableFacts(session, qualified)
  const schema = table?.schema ?? def.schema ?? (named && named.length > 1 ? named[named.length - 2] : 'public')
  const name = def.name ?? fitName(`${def.table}_chokepoint_idx`)
  const partitioned = table?.relkind === 'p'
  const d: IndexDetails = {
    schema, table: table?.name ?? def.table, tableOid: table?.oid ?? null, name, rest: def.rest, key: def.key, partitioned,
    parts: [], leftovers: [], conflict: null, unique: def.unique, verify: [],
    predicted: remedy.estimate && remedy.estimate.costBefore > 0 ? {costBefore: remedy.estimate.costBefore, costAfter: remedy.estimate.costAfter} : null,
  }
  if (!table) return d
  if (!['r', 'p', 'm'].includes(table.relkind)) throw new ApplyRefusal(`${qualified} is not a table (relkind ${table.relkind})`)
  d.parts = partitioned ? await partitionTree(session, table, name) : [{schema, table: table.name, tableOid: table.oid, name, partitioned: false, depth: 0}]
  // What stands in the way on each table: an INVALID index of this name or definition is a leftover to drop first;
  // a valid one is a conflict.
  for (const part of d.parts) {
    for (const existing of await indexesOfTable(session, part.tableOid)) {
      const sameName = existing.schema === part.schema && existing.name === part.name
      let sameDef = false
      try {
        sameDef = (await parseIndexDefinition(existing.definition)).key === def.key
      } catch {
        // an index pg_get_indexdef prints is a CREATE INDEX; if not, it is not ours
      }
      if (!sameName && !sameDef) continue
      if (!existing.valid && part.depth === 0) d.leftovers.push({schema: existing.schema, name: existing.name, tableOid: part.tableOid, partitioned: existing.relkind === 'I'})
      else if (!existing.valid && sameName) d.leftovers.push({schema: existing.schema, name: existing.name, tableOid: part.tableOid, partitioned: existing.relkind === 'I'})
      else if (sameName) d.conflict ??= `index ${quoteQualified(existing.schema, existing.name)} already exists (valid): ${existing.definition}`
      else if (part.depth === 0) d.conflict ??= `${quoteQualified(existing.schema, existing.name)} already is this index: ${existing.definition}`
    }
  }
  // A relation of the index's name elsewhere in the schema (another table's index, a table) blocks the name.
  if (!d.conflict) {
    for (const part of d.parts) {
      const found = await indexByName(session, quoteQualified(part.schema, part.name))
      if (found && found.tableOid !== part.tableOid) d.conflict = `the name ${quoteQualified(part.schema, part.name)} is taken by an index of another table`
      else if (!found) {
        const [r] = await session.monitor.query('SELECT to_regclass($1) IS NOT NULL AS taken', [quoteQualified(part.schema, part.name)])
        if (r?.taken) d.conflict = `the name ${quoteQualified(part.schema, part.name)} is taken by another relation`
      }
      if (d.conflict) break
    }
  }
  d.verify = await statementTexts(session, ctx, remedy.statements ?? [])
  for (const s of d.verify) {
    try {
      const r = await explainUses(session, s.sql, d.parts.map((p) => p.name))
      s.costBefore = r.cost
      s.usedIndexBefore = r.uses
    } catch (error) {
      s.error = (error as Error).message
    }
  }
  return d
}

export const postgresIndexApplier: Applier<PgApplySession> = {
  id: 'postgres-index',
  remedyKinds: ['index'],
  targetKinds: ['postgres'],
  connect: openApplySession,
  close: closeApplySession,

  async plan(remedy, session, ctx): Promise<ChangePlan> {
    const d = await readDetails(asIndexRemedy(remedy), session, ctx)
    const notes = d.leftovers.map((l) => `an INVALID index ${quoteQualified(l.schema, l.name)} (left by an interrupted build) is dropped first`)
    if (d.partitioned) notes.push(`partitioned: built CONCURRENTLY on each of ${d.parts.filter((p) => !p.partitioned).length} partition(s), then created ON ONLY the parent (a brief SHARE lock) and attached`)
    const max = (ctx.target.options ?? {}).applyStatementTimeoutMs
    notes.push(max ? `statement_timeout ${max} ms (applyStatementTimeoutMs)` : 'statement_timeout off for the build')
    notes.push(...verifyWindowNote(ctx, d.verify))
    if (d.verify.length < (remedy as IndexRemedy).statements.length) notes.push(`${(remedy as IndexRemedy).statements.length - d.verify.length} of the statements it is for were not found in pg_stat_statements: verification cannot EXPLAIN them`)
    return {
      remedyId: remedy.id,
      remedyKind: 'index',
      applier: this.id,
      target: ctx.target.name,
      summary: `create index ${quoteIdent(d.name)} on ${quoteQualified(d.schema, d.table)}${d.partitioned ? ` (${d.parts.length - 1} partition indexes)` : ''}`,
      statements: buildStatements(d),
      rollback: rollbackStatements(d),
      details: d,
      notes,
    }
  },

  async preflight(plan, session): Promise<PreflightResult> {
    const d = plan.details as IndexDetails
    const table = await tableFacts(session, quoteQualified(d.schema, d.table))
    if (!table || (d.tableOid !== null && table.oid !== d.tableOid)) {
      return {ok: false, reason: `table ${quoteQualified(d.schema, d.table)} no longer exists (dropped or renamed since the audit)`, fix: 'audit again'}
    }
    if (d.unique) return {ok: false, reason: 'the remedy creates a UNIQUE index: building one can fail on existing duplicates and changes what the application may write; create it by hand'}
    if (d.conflict) return {ok: false, reason: d.conflict, fix: 'audit again: the remedy may already be in place'}
    if (!table.owns) return {ok: false, ...ownershipRefusal(session, table, 'create an index')}
    return (await applyLockRefusal(session)) ?? {ok: true, notes: []}
  },

  async apply(plan, session, ctx, record): Promise<AppliedChange> {
    const d = plan.details as IndexDetails
    await lockAndRecheck(plan, session, ctx, (p, sess, c) => this.preflight(p, sess, c))
    const undo: IndexUndo = {kind: 'index', schema: d.schema, name: d.name, tableOid: d.tableOid, partitioned: d.partitioned,
      parts: d.parts.slice().reverse().map((p) => ({schema: p.schema, name: p.name, partitioned: p.partitioned, tableOid: p.tableOid}))}
    const before = {indexes: (await indexesOfTable(session, d.tableOid!)).map((i) => i.definition)}
    // Before anything changes: the journal knows what to drop if this process dies from here on.
    await record({undo, before, statements: plan.statements, rollbackStatements: plan.rollback})
    const sent: string[] = []
    const notes: string[] = []
    for (const l of d.leftovers) {
      sent.push(await dropIndexStep(session, ctx, l.schema, l.name, {partitioned: l.partitioned, tableOid: l.tableOid}))
      const said = `dropped the INVALID index ${quoteQualified(l.schema, l.name)} an interrupted build had left`
      ctx.log(said)
      notes.push(said)
    }
    const budget = {waitedMs: 0}
    const creates = buildStatements({...d, leftovers: []})
    try {
      for (const sql of creates) {
        const part = d.parts.find((p) => sql.includes(` ${quoteIdent(p.name)} ON `))
        if (sql.startsWith('CREATE INDEX CONCURRENTLY') && part) {
          await buildIndexStep(session, ctx, {schema: part.schema, name: part.name, sql, tableOid: part.tableOid, progress: true}, budget)
        } else {
          await runStep(session, ctx, sql, {label: sql.startsWith('ALTER') ? 'attach partition index' : `create index ${quoteQualified(part?.schema ?? d.schema, part?.name ?? d.name)} on only the parent`, tableOid: part?.tableOid, budget})
        }
        sent.push(sql)
      }
    } catch (error) {
      // Whatever this change created is dropped again before the error is told; said either way.
      const cleaned = await cleanUp(session, ctx, undo.parts.slice().reverse().filter((p) => p.partitioned).concat(undo.parts.filter((p) => !p.partitioned)))
      const message = `${(error as Error).message}; ${cleaned.said}`
      ctx.log(message)
      if (!cleaned.ok) await record({error: message}).catch(() => {})
      if (cleaned.unreachable) throw new ChangeLeftUnfinished(message)
      if (error instanceof ApplyRefusal) throw new ApplyRefusal(message, error.fix)
      const wrapped = new Error(message)
      wrapped.name = (error as Error).name
      throw wrapped
    }
    return {statements: sent, before, undo, notes}
  },

  async verify(plan, applied, session, ctx): Promise<Verification> {
    const d = plan.details as IndexDetails
    const index = await indexByName(session, quoteQualified(d.schema, d.name))
    if (!index) return {ok: false, detail: `index ${quoteQualified(d.schema, d.name)} does not exist`}
    if (!index.valid || !index.ready) return {ok: false, detail: `index ${quoteQualified(d.schema, d.name)} is not usable (indisvalid ${index.valid}, indisready ${index.ready})`}
    const names = d.parts.map((p) => p.name)
    const measured: Array<{id: string; costBefore: number | null; costAfter: number | null; usesIndex: boolean; error?: string}> = []
    for (const s of d.verify) {
      try {
        const r = await explainUses(session, s.sql, names)
        measured.push({id: s.id, costBefore: s.costBefore ?? null, costAfter: r.cost, usesIndex: r.uses})
      } catch (error) {
        measured.push({id: s.id, costBefore: s.costBefore ?? null, costAfter: null, usesIndex: false, error: (error as Error).message})
      }
    }
    const planned = measured.filter((m) => m.costBefore !== null && m.costAfter !== null)
    const before = planned.reduce((a, m) => a + m.costBefore!, 0)
    const after = planned.reduce((a, m) => a + m.costAfter!, 0)
    const measuredRatio = before > 0 ? after / before : null
    const predictedRatio = d.predicted ? d.predicted.costAfter / d.predicted.costBefore : null
    const measurements: Record<string, unknown> = {valid: true, ready: true, statements: measured, costBefore: before, costAfter: after, measuredRatio, predictedRatio,
      tolerance: {factor: PLAN_COST_TOLERANCE, slack: PLAN_COST_SLACK}}
    const problems: string[] = []
    const unused = measured.filter((m) => !m.usesIndex)
    if (unused.length) problems.push(`${unused.length} of ${measured.length} statement(s) do not use it (${unused.map((m) => m.id).join(', ')})`)
    if (measuredRatio !== null && measuredRatio >= 1) problems.push(`plan cost did not fall (${before.toFixed(1)} -> ${after.toFixed(1)})`)
    else if (measuredRatio !== null && predictedRatio !== null && measuredRatio > predictedRatio * (1 + PLAN_COST_TOLERANCE) + PLAN_COST_SLACK) {
      problems.push(`plan cost fell to ${(measuredRatio * 100).toFixed(1)}% of before, short of the predicted ${(predictedRatio * 100).toFixed(1)}%`)
    }
    let windowDetail = ''
    const windowMs = verifyWindowFor(ctx, d.verify)
    if (problems.length === 0 && windowMs > 0) {
      const w = await watchWindow(session, ctx, d.verify, windowMs)
      measurements.window = w.measured
      if (!w.ok) problems.push(w.detail)
      else windowDetail = `; ${w.detail}`
    }
    const what = `index ${quoteQualified(d.schema, d.name)} is valid and ready`
    if (problems.length) return {ok: false, detail: `${what}, but ${problems.join('; ')}`, measurements}
    if (measured.length === 0) return {ok: true, detail: `${what}; no statement of the remedy could be EXPLAINed (not in pg_stat_statements): plan gain not checked`, measurements}
    return {ok: true, detail: `${what}; ${measured.length} statement(s) use it, plan cost ${before.toFixed(1)} -> ${after.toFixed(1)}${predictedRatio !== null ? ` (predicted ${(predictedRatio * 100).toFixed(1)}% of before)` : ''}${windowDetail}`, measurements}
  },

  async rollback(change, session, ctx): Promise<RollbackResult> {
    return dropChange(change, session, ctx, 'rolled back')
  },

  async recover(change, session, ctx): Promise<RollbackResult> {
    return dropChange(change, session, ctx, 'cleaned up after an interrupted apply')
  },
}

async function dropChange(change: ChangeRecord, session: PgApplySession, ctx: ApplyContext, what: string): Promise<RollbackResult> {
  const undo = change.undo as IndexUndo | undefined
  if (!undo || undo.kind !== 'index') return {ok: false, detail: 'the journal entry has no undo for an index', statements: []}
  await takeApplyLock(session, ctx)
  const statements: string[] = []
  const dropped: string[] = []
  try {
    // The parent first: dropping a partitioned index drops its attached partitions' indexes; then any left unattached.
    const order = [{schema: undo.schema, name: undo.name, partitioned: undo.partitioned, tableOid: undo.tableOid ?? undefined}, ...undo.parts]
    for (const n of order) {
      const found = await indexByName(session, quoteQualified(n.schema, n.name))
      if (!found) continue
      statements.push(await dropIndexStep(session, ctx, n.schema, n.name, {partitioned: found.relkind === 'I', tableOid: n.tableOid}))
      dropped.push(`${found.valid ? '' : 'INVALID '}${quoteQualified(n.schema, n.name)}`)
    }
  } catch (error) {
    return {ok: false, detail: `${what} in part: ${(error as Error).message}`, statements}
  }
  return {ok: true, detail: dropped.length ? `${what}: dropped index ${dropped.join(', ')}` : `${what}: index ${quoteQualified(undo.schema, undo.name)} was not there`, statements}
}
