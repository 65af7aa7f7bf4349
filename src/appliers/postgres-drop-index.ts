/**
 * The drop-index applier: carries out a `drop-index` remedy on PostgreSQL with DROP INDEX CONCURRENTLY, after
 * refusing indexes that back a constraint, unique and primary-key indexes, and indexes whose scans were not checked
 * on every standby. The full definition (pg_get_indexdef) goes into the journal, so rollback recreates it
 * CONCURRENTLY; verification checks that the statements which used it are no slower in plan cost (docs/apply.md,
 * "drop-index applier").
 */
import type {Applier, AppliedChange, ApplyContext, ChangePlan, ChangeRecord, PreflightResult, RollbackResult, Verification} from '../core/applier.js'
import {ApplyRefusal} from '../core/applier.js'
import type {DropIndexRemedy, Remedy} from '../core/remedies.js'
import {parseQualifiedName, quoteIdent, quoteQualified} from '../core/sql.js'
import {
  applyLockRefusal, buildIndexStep, cleanUp, closeApplySession, createIndexSql, dropIndexSql, explainUses, indexByName, lockAndRecheck, NO_SLOWER_TOLERANCE,
  openApplySession, ownershipRefusal, parseIndexDefinition, runStep, statementsOnTable, tableFactsByOid, takeApplyLock, verifyWindowFor, verifyWindowNote, watchWindow,
  type IndexFacts, type PgApplySession, type VerifyStatement,
} from './postgres-session.js'

interface DropDetails extends Record<string, unknown> {
  index: string
  schema: string
  name: string
  missing: boolean
  indexOid: number | null
  tableOid: number | null
  tableSchema: string | null
  table: string | null
  definition: string | null
  recreate: string | null
  refusal: {reason: string; fix?: string} | null
  verify: VerifyStatement[]
}

/** What rollback needs: the definition as the server printed it, and the statement that recreates it. */
export interface DropIndexUndo {
  kind: 'drop-index'
  schema: string
  name: string
  tableOid: number | null
  definition: string
  recreate: string
}

function asDropRemedy(remedy: Remedy): DropIndexRemedy {
  if (remedy.kind !== 'drop-index') throw new ApplyRefusal(`the drop-index applier carries out drop-index remedies, not ${remedy.kind}`)
  return remedy
}

/** checkReplicas as a rule template renders it ("true", "1", 2) or an advisor gives it (true). */
function mustCheckReplicas(value: DropIndexRemedy['checkReplicas']): boolean {
  if (value === undefined || value === null) return false
  if (typeof value === 'boolean') return value
  const text = String(value).trim().toLowerCase()
  return !(text === '' || text === 'false' || text === '0')
}

/** Why this index may not be dropped by an applier, or null. */
function refusalOf(remedy: DropIndexRemedy, index: IndexFacts): {reason: string; fix?: string} | null {
  const name = quoteQualified(index.schema, index.name)
  if (index.constraint) return {reason: `${name} backs the constraint ${quoteIdent(index.constraint)}: dropping it means dropping the constraint, which is a schema change, not an index clean-up`}
  if (index.primary) return {reason: `${name} is a primary key index`}
  if (index.unique) return {reason: `${name} is a unique index: it enforces uniqueness, whatever its scan count`}
  if (index.relkind === 'I') return {reason: `${name} is a partitioned index: it cannot be dropped CONCURRENTLY`, fix: `DROP INDEX ${name}; -- takes an ACCESS EXCLUSIVE lock on the table and its partitions`}
  if (mustCheckReplicas(remedy.checkReplicas)) {
    return {reason: `the scans of ${name} were not checked on every standby (checkReplicas): a replica may serve reads through it`,
      fix: `SELECT idx_scan FROM pg_stat_user_indexes WHERE schemaname = '${index.schema.replace(/'/g, "''")}' AND indexrelname = '${index.name.replace(/'/g, "''")}'; -- on each standby; then drop it by hand`}
  }
  return null
}

async function readDetails(remedy: DropIndexRemedy, session: PgApplySession): Promise<DropDetails> {
  const parts = parseQualifiedName(remedy.index)
  if (!parts) throw new ApplyRefusal(`the remedy's index ${JSON.stringify(remedy.index)} is not an index name`)
  const qualified = parts.map(quoteIdent).join('.')
  const index = await indexByName(session, qualified)
  const d: DropDetails = {
    index: qualified, schema: index?.schema ?? (parts.length > 1 ? parts[parts.length - 2] : 'public'), name: index?.name ?? parts[parts.length - 1],
    missing: !index, indexOid: index?.oid ?? null, tableOid: index?.tableOid ?? null, tableSchema: null, table: null,
    definition: index?.definition ?? null, recreate: null, refusal: null, verify: [],
  }
  if (!index) return d
  d.refusal = refusalOf(remedy, index)
  const table = await tableFactsByOid(session, index.tableOid)
  d.tableSchema = table?.schema ?? null
  d.table = table?.name ?? null
  if (table) {
    const def = await parseIndexDefinition(index.definition)
    d.recreate = createIndexSql(index.name, table.schema, table.name, def.rest, {concurrently: true})
    // The statements on its table, and which of them read through this index now.
    d.verify = await statementsOnTable(session, table.schema, table.name)
    for (const s of d.verify) {
      try {
        const r = await explainUses(session, s.sql, [index.name])
        s.costBefore = r.cost
        s.usedIndexBefore = r.uses
      } catch (error) {
        s.error = (error as Error).message
      }
    }
    d.verify = d.verify.filter((s) => s.usedIndexBefore)
  }
  return d
}

export const postgresDropIndexApplier: Applier<PgApplySession> = {
  id: 'postgres-drop-index',
  remedyKinds: ['drop-index'],
  targetKinds: ['postgres'],
  connect: openApplySession,
  close: closeApplySession,

  async plan(remedy, session, ctx): Promise<ChangePlan> {
    const d = await readDetails(asDropRemedy(remedy), session)
    const notes: string[] = []
    if (d.definition) notes.push(`the definition is kept in the journal, so rollback recreates it: ${d.definition}`)
    if (d.verify.length) notes.push(`${d.verify.length} statement(s) use it now; verification checks they are no slower in plan cost`)
    notes.push(...verifyWindowNote(ctx, d.verify))
    return {
      remedyId: remedy.id,
      remedyKind: 'drop-index',
      applier: this.id,
      target: ctx.target.name,
      summary: `drop index ${quoteQualified(d.schema, d.name)}${d.table ? ` on ${quoteQualified(d.tableSchema, d.table)}` : ''}`,
      statements: [dropIndexSql(d.schema, d.name, true)],
      rollback: d.recreate ? [d.recreate] : [],
      details: d,
      notes,
    }
  },

  async preflight(plan, session): Promise<PreflightResult> {
    const d = plan.details as DropDetails
    const index = await indexByName(session, quoteQualified(d.schema, d.name))
    if (!index || d.missing || index.oid !== d.indexOid) return {ok: false, reason: `index ${quoteQualified(d.schema, d.name)} no longer exists (dropped or renamed since the audit)`}
    if (index.definition !== d.definition) return {ok: false, reason: `index ${quoteQualified(d.schema, d.name)} changed since it was planned: ${index.definition}`, fix: 'audit again'}
    if (d.refusal) return {ok: false, ...d.refusal}
    const table = await tableFactsByOid(session, index.tableOid)
    if (table && !table.owns) return {ok: false, ...ownershipRefusal(session, table, 'drop an index')}
    if (!d.recreate) return {ok: false, reason: `the table of ${quoteQualified(d.schema, d.name)} could not be read: rollback would not know how to recreate it`}
    return (await applyLockRefusal(session)) ?? {ok: true, notes: []}
  },

  async apply(plan, session, ctx, record): Promise<AppliedChange> {
    const d = plan.details as DropDetails
    await lockAndRecheck(plan, session, ctx, (p, sess, c) => this.preflight(p, sess, c))
    const undo: DropIndexUndo = {kind: 'drop-index', schema: d.schema, name: d.name, tableOid: d.tableOid, definition: d.definition!, recreate: d.recreate!}
    await record({undo, before: {definition: d.definition}, statements: plan.statements, rollbackStatements: plan.rollback})
    const sql = dropIndexSql(d.schema, d.name, true)
    try {
      await runStep(session, ctx, sql, {label: `drop index ${quoteQualified(d.schema, d.name)}`, tableOid: d.tableOid ?? undefined, budget: {waitedMs: 0}})
    } catch (error) {
      // DROP INDEX CONCURRENTLY interrupted after its first transaction leaves the index INVALID (no longer used).
      const left = await indexByName(session, quoteQualified(d.schema, d.name)).then((index) => ({index}), () => null)
      const state = !left ? 'its state could not be read (the server does not answer): once it is back, roll back with apply --rollback to rebuild it if it is gone or INVALID'
        : left.index ? (left.index.valid ? 'the index is still there and valid' : 'the index is left INVALID: roll back to rebuild it, or apply again to finish the drop') : 'the index is gone'
      const message = `${(error as Error).message}; ${state}`
      if (error instanceof ApplyRefusal) throw new ApplyRefusal(message, error.fix)
      throw new Error(message)
    }
    return {statements: [sql], before: {definition: d.definition}, undo, notes: []}
  },

  async verify(plan, applied, session, ctx): Promise<Verification> {
    const d = plan.details as DropDetails
    const still = await indexByName(session, quoteQualified(d.schema, d.name))
    if (still) return {ok: false, detail: `index ${quoteQualified(d.schema, d.name)} still exists`}
    const measured: Array<{id: string; costBefore: number | null; costAfter: number | null; error?: string}> = []
    const slower: string[] = []
    for (const s of d.verify) {
      try {
        const r = await explainUses(session, s.sql, [d.name])
        measured.push({id: s.id, costBefore: s.costBefore ?? null, costAfter: r.cost})
        if (s.costBefore !== undefined && r.cost > s.costBefore * (1 + NO_SLOWER_TOLERANCE) + 0.01) slower.push(`${s.id} ${s.costBefore.toFixed(1)} -> ${r.cost.toFixed(1)}`)
      } catch (error) {
        measured.push({id: s.id, costBefore: s.costBefore ?? null, costAfter: null, error: (error as Error).message})
        slower.push(`${s.id} could not be planned: ${(error as Error).message}`)
      }
    }
    const measurements: Record<string, unknown> = {statements: measured, tolerance: NO_SLOWER_TOLERANCE}
    const what = `index ${quoteQualified(d.schema, d.name)} is gone`
    if (slower.length) return {ok: false, detail: `${what}, but statements that used it cost more to run now: ${slower.join('; ')}`, measurements}
    const windowMs = verifyWindowFor(ctx, d.verify)
    let windowDetail = ''
    if (windowMs > 0) {
      const w = await watchWindow(session, ctx, d.verify, windowMs)
      measurements.window = w.measured
      if (!w.ok) return {ok: false, detail: `${what}, but ${w.detail}`, measurements}
      windowDetail = `; ${w.detail}`
    }
    return {ok: true, detail: d.verify.length ? `${what}; the ${d.verify.length} statement(s) that used it are no slower in plan cost${windowDetail}` : `${what}; no statement in pg_stat_statements used it`, measurements}
  },

  async rollback(change, session, ctx): Promise<RollbackResult> {
    return recreate(change, session, ctx)
  },

  // A drop cut off mid-way (the server gone, the run killed) may have left the index INVALID, gone, or untouched; the
  // next apply puts it back as it was (recreate is a no-op on a valid index), and the drop can be applied again.
  async recover(change, session, ctx): Promise<RollbackResult> {
    const result = await recreate(change, session, ctx)
    return {...result, detail: `cleaned up after an interrupted apply: ${result.detail}`}
  },
}

async function recreate(change: ChangeRecord, session: PgApplySession, ctx: ApplyContext): Promise<RollbackResult> {
  const undo = change.undo as DropIndexUndo | undefined
  if (!undo || undo.kind !== 'drop-index' || !undo.recreate) return {ok: false, detail: 'the journal entry has no definition to recreate the index from', statements: []}
  await takeApplyLock(session, ctx)
  const name = quoteQualified(undo.schema, undo.name)
  const existing = await indexByName(session, name)
  const statements: string[] = []
  if (existing?.valid) return {ok: true, detail: `index ${name} is already there: nothing to recreate`, statements}
  // The statement is re-read through the parser, so a journal edited by hand cannot smuggle anything else in.
  const def = await parseIndexDefinition(undo.recreate)
  if (def.name !== undo.name) return {ok: false, detail: `the journal's statement does not recreate ${name}`, statements}
  const sql = createIndexSql(undo.name, def.schema ?? undo.schema, def.table, def.rest, {concurrently: true})
  try {
    if (existing) {
      // An INVALID index of that name (an interrupted drop or rebuild) is replaced, not built beside.
      await runStep(session, ctx, dropIndexSql(undo.schema, undo.name, true), {label: `drop the INVALID ${name}`, budget: {waitedMs: 0}})
      statements.push(dropIndexSql(undo.schema, undo.name, true))
    }
    const table = await session.monitor.query('SELECT to_regclass($1)::int8 AS oid', [quoteQualified(def.schema ?? undo.schema, def.table)])
    await buildIndexStep(session, ctx, {schema: undo.schema, name: undo.name, sql, tableOid: Number(table[0]?.oid), progress: true}, {waitedMs: 0})
    statements.push(sql)
  } catch (error) {
    const cleaned = await cleanUp(session, ctx, [{schema: undo.schema, name: undo.name}])
    return {ok: false, detail: `could not recreate ${name}: ${(error as Error).message}; ${cleaned.said}`, statements}
  }
  const made = await indexByName(session, name)
  return made?.valid ? {ok: true, detail: `recreated index ${name} (valid): ${made.definition}`, statements} : {ok: false, detail: `recreated ${name} but it is not valid`, statements}
}
