import type {Advisor, AdvisorContext, AdvisorFinding} from '../../core/advisor.js'
import {errorMessage} from '../../core/errors.js'
import type {IndexRemedy, Proposed} from '../../core/remedies.js'
import type {Reading} from '../../core/types.js'
import {round} from '../../core/numbers.js'
import type {PgSession} from '../../drivers/postgres.js'
import {dataOf} from '../../core/readings.js'
import {plansReading, statementsReading, tablesReading, type PlannedStatement, type PlansData} from '../../readings/postgres.js'
import {describeStatement, safeQueryTextSync, type StatementFigures} from '../../knowledge/postgres/query-text.js'
import {columnsOf, type CatalogFacts} from '../../knowledge/postgres/catalog.js'
import {generateCandidates, indexDefinition, indexName, type Candidate} from './candidates.js'
import {formatBytes, looksOptimal, percent, planEvidence, SMALL_TABLE_ROWS, type PlanEvidence, type Reason} from './explain.js'
import {extractShapeSync, type StatementShape} from '../../knowledge/postgres/parse.js'
import {plannable, type PlannableStatement} from '../../knowledge/postgres/plan.js'
import {greedySelect, type SelectionResult} from './select.js'
import {hiddenWorkload, reportHiddenWorkload} from './coverage.js'
import {verifyReal, verifyRealRefusal} from './verify.js'
import {WhatIf} from './whatif.js'
import {tradeOffText, writePenalty, writeRates, type TableWriteRate} from './write-cost.js'
import {indexScaling, statementTimePerSecond} from './scaling.js'
import {severityByTimeSaved, timeSaved, timeSavedText, type TimeSaved} from './severity.js'

export {INDEX_WRITE_COST_PER_ROW, writePenalty} from './write-cost.js'
import {ensureParser, indexAdvisorOptions} from '../../knowledge/postgres/workload.js'

/** A statement is "costly" (gets its own finding) from this share of the workload's weighted cost. */
const COSTLY_SHARE = 0.01
const MAX_STATEMENT_FINDINGS = 50

export interface AdvisorRun {
  data: PlansData
  shapes: Array<StatementShape | undefined>
  candidates: Candidate[]
  selection?: SelectionResult
  verified: 'what-if' | 'real' | false
  notVerifiedBecause?: string
  /** Why --verify-real did not run; the what-if results stand. */
  verifyRealRefused?: string
  whatIf?: {calls: number; memoHits: number}
  wallMs: number
}

function indexRemedy(c: Candidate, run: AdvisorRun, helped: number[], costBefore: number, costAfter: number): Proposed<IndexRemedy> {
  const catalog = run.data.catalog
  return {
    kind: 'index',
    summary: `index ${c.table} ${c.method === 'btree' ? '' : `using ${c.method} `}(${c.keys.map((k) => k.sql + (k.desc ? ' DESC' : '')).join(', ')})${c.include?.length ? ` include (${c.include.join(', ')})` : ''}${c.where ? ` where ${c.where}` : ''}`,
    sql: indexDefinition(c, catalog, {concurrently: !catalog.tables[c.table]?.partitioned, name: indexName(c, catalog)}),
    table: c.table,
    columns: c.keys.map((k) => (k.sql.startsWith('"') ? k.column : k.sql) + (k.desc ? ' DESC' : '')),
    method: c.method,
    where: c.where ?? null,
    include: c.include ?? [],
    estimate: {costBefore: round(costBefore), costAfter: round(costAfter), queriesImproved: helped.length, sizeBytes: c.estimatedBytes},
    statements: helped.map((si) => run.data.statements[si].id),
    verified: run.verified,
    ...(run.verified === false ? {notVerified: run.notVerifiedBecause} : {}),
  }
}

/** Without a live planner: the widest btree candidate per seq-scanned large table of each statement, unverified. */
function heuristicChoice(run: AdvisorRun): Candidate[] {
  const chosen = new Map<string, Candidate>()
  run.data.statements.forEach((s, si) => {
    if (!s.plan) return
    const evidence = planEvidence(s.plan, run.data.catalog)
    for (const scan of [...evidence.seqScans, ...evidence.nestedLoopInnerSeqScans.filter((n) => n.tableRows >= SMALL_TABLE_ROWS)]) {
      const best = run.candidates.filter((c) => c.table === scan.table && c.statements.includes(si) && !c.include)
        .sort((a, b) => b.keys.length - a.keys.length || a.estimatedBytes - b.estimatedBytes)[0]
      if (best) chosen.set(best.id, best)
    }
  })
  return [...chosen.values()]
}

export async function runIndexAdvisor(ctx: AdvisorContext): Promise<{run: AdvisorRun; findings: AdvisorFinding[]} | undefined> {
  const started = Date.now()
  const data = dataOf(ctx.readings, plansReading)
  if (!data || !ctx.target) return undefined
  const options = indexAdvisorOptions(ctx.options)
  const catalog = data.catalog
  const target = ctx.target.name
  await ensureParser()

  const cols = columnsOf(catalog)
  const shapes = data.statements.map((s) => {
    if (!s.plan) return undefined
    try {
      return extractShapeSync(s.sql, cols)
    } catch {
      return undefined
    }
  })
  const {candidates, covered, notes, pairs} = generateCandidates(shapes, catalog)
  const run: AdvisorRun = {data, shapes, candidates, verified: false, wallMs: 0}

  const session = ctx.live.get(target) as PgSession | undefined
  const stmts: Array<PlannableStatement | undefined> = await Promise.all(data.statements.map(async (s) => (s.plan ? plannable(s.plannedSql ?? s.sql).catch(() => undefined) : undefined)))
  const baseStatements = data.statements.map((s) => (s.cost !== undefined && s.cost > 0 ? {weight: s.weight, baseCost: s.cost} : undefined))
  const rateOf = writeRates(ctx.readings, data, ctx.options)
  const rate = (table: string) => rateOf(table).rowsPerSecond
  const penalty = (c: Candidate) => writePenalty(c, rate(c.table), catalog.tables[c.table]?.rows ?? 0)
  let whatIf: WhatIf | undefined
  const bestAlone = new Map<number, number>()

  if (!session) run.notVerifiedBecause = ctx.liveUnavailable ? `not verified: ${ctx.liveUnavailable}` : 'not verified: audited from a snapshot (run a live audit with hypopg for what-if costs)'
  else if (!(await WhatIf.available(session).catch(() => false))) run.notVerifiedBecause = 'not verified: hypopg is not installed in this database (CREATE EXTENSION hypopg; see docs/index-advisor.md)'
  else {
    whatIf = new WhatIf(session, stmts, shapes.map((s) => s?.tables ?? []), catalog, options.maxWhatIfCalls ?? 20_000)
    // How many what-if plans are needed is known only at the end: a count, against the call budget as its bound.
    const progress = ctx.progress?.start(`${target}: index advisor what-if plans`, null, 'plans')
    try {
      const bad = await whatIf.measure(candidates)
      const usable = candidates.filter((c) => !bad.has(c.id))
      const costOf = async (si: number, config: Candidate[]) => {
        const {cost} = await whatIf!.cost(si, config)
        progress?.tick(whatIf!.calls)
        return cost
      }
      const byId = new Map(usable.map((c) => [c.id, c]))
      run.selection = await greedySelect({
        statements: baseStatements, candidates: usable, costOf, penalty, budgetBytes: options.indexBudgetBytes, maxIndexes: options.maxIndexes,
        minImprovement: options.minImprovement, stop: () => whatIf!.exhausted,
        // A merged index (select.ts, mergeChosen) is sized by hypopg like every candidate.
        sizeOf: async (c) => ((await whatIf!.measure([c])).has(c.id) ? undefined : c.estimatedBytes),
        pairs: pairs.filter(([a, b]) => byId.has(a) && byId.has(b)).map(([a, b]) => [byId.get(a)!, byId.get(b)!]),
      })
      // The best any single candidate does for each statement, to explain statements left without an index.
      for (const c of usable) {
        for (const si of c.statements) {
          const base = baseStatements[si]
          if (!base) continue
          const gain = (base.baseCost - (await costOf(si, [c]))) / base.baseCost
          bestAlone.set(si, Math.max(bestAlone.get(si) ?? 0, gain))
        }
      }
      run.verified = 'what-if'
      if (options.verifyReal && run.selection.chosen.length > 0) {
        // A refusal is checked first and reported, so the what-if proposals are kept rather than lost with it.
        run.verifyRealRefused = await verifyRealRefusal(session, options.scratch === true)
        if (!run.verifyRealRefused) {
          const real = await verifyReal(session, stmts, run.selection.chosen, catalog, options.scratch === true)
          run.selection.costs = real.costs.map((c, i) => c ?? run.selection!.costs[i])
          run.verified = 'real'
        }
      }
    } finally {
      progress?.end()
      await whatIf.reset().catch(() => {})
    }
    run.whatIf = {calls: whatIf.calls, memoHits: whatIf.memoHits}
  }

  const chosen = run.selection?.chosen ?? heuristicChoice(run)
  const finalCosts = run.selection?.costs ?? data.statements.map((s) => s.cost)
  // Which chosen index serves each statement, and what it is worth there: with what-if plans, the statements whose
  // cost rises when it alone is dropped from the final set (its drop-one delta, not its gain as a lone candidate,
  // which other indexes of the set may share); without, the candidate's statements.
  const usedBy = new Map<string, number[]>()
  const gainOf = (id: string) => run.selection?.gains.get(id)
  for (const c of chosen) usedBy.set(c.id, [])
  for (const [si] of data.statements.entries()) {
    const base = baseStatements[si]
    if (!base) continue
    let credited = false
    for (const c of chosen) {
      if (run.selection ? gainOf(c.id)?.statements.some((x) => x.statement === si) : c.statements.includes(si)) {
        usedBy.get(c.id)!.push(si)
        credited = true
      }
    }
    // Improved by the set, yet no single index is missed without it (two interchangeable ones): name the indexes
    // its final plan uses, so the statement is not left "below --min-improvement" with a gain it has.
    if (!credited && whatIf && run.selection) {
      const final = await whatIf.cost(si, chosen).catch(() => undefined)
      if (final && (base.baseCost - final.cost) / base.baseCost >= options.minImprovement) for (const id of final.used) usedBy.get(id)?.push(si)
    }
  }
  if (whatIf) await whatIf.reset().catch(() => {})
  if (whatIf) run.whatIf = {calls: whatIf.calls, memoHits: whatIf.memoHits}

  const weighted = (si: number, cost: number | undefined) => (cost ?? 0) * data.statements[si].weight
  const totalBefore = data.statements.reduce((s, st, si) => s + weighted(si, st.cost), 0)
  const totalAfter = data.statements.reduce((s, st, si) => s + weighted(si, finalCosts[si] ?? st.cost), 0)

  const remedies = new Map<string, Proposed<IndexRemedy>>()
  for (const c of chosen) {
    const helped = usedBy.get(c.id) ?? []
    const gain = gainOf(c.id)
    const before = gain ? gain.statements.reduce((s, x) => s + x.without, 0) : helped.reduce((s, si) => s + weighted(si, data.statements[si].cost), 0)
    const after = gain ? gain.statements.reduce((s, x) => s + x.with, 0) : helped.reduce((s, si) => s + weighted(si, finalCosts[si]), 0)
    if (run.selection && helped.length === 0) continue
    remedies.set(c.id, indexRemedy(c, run, helped, before, run.selection ? after : before))
  }
  // Severity by the statement time each index would save (severity.ts), not by its cost ratio.
  const judged = new Map<string, {saved: TimeSaved; severity: 'warning' | 'info' | undefined}>()
  for (const c of chosen) {
    if (!remedies.has(c.id)) continue
    const saved = timeSaved(data.statements, usedBy.get(c.id) ?? [], finalCosts, !!run.selection, data.source === 'pg_stat_statements')
    judged.set(c.id, {saved, severity: severityByTimeSaved(saved, options)})
  }
  run.wallMs = Date.now() - started
  const findings: AdvisorFinding[] = []

  // Messages name a statement by its text and figures, not by queryid alone. pg_stat_statements texts are safe
  // already (the plans probe stores only those); a --queries statement is the user's own text, made safe here.
  // Figures come from the statements reading when it lists the queryid (the same window and share of this
  // database's statement time as database/slow-statement), else from the plans reading's counters.
  const counted = new Map((dataOf(ctx.readings, statementsReading)?.statements ?? []).map((row) => [row.queryid, row]))
  const figuresOf = (s: PlannedStatement): StatementFigures => {
    const row = data.source === 'pg_stat_statements' ? counted.get(s.id) : undefined
    return row ? {calls: row.calls, meanMs: row.meanMs, totalMs: row.totalMs, share: row.share} : {calls: s.calls, meanMs: s.meanMs, totalMs: s.totalMs}
  }
  const named = (s: PlannedStatement, extra: string[] = []) => describeStatement(s.id, data.source === 'queries' ? safeQueryTextSync(s.sql).text : s.sql,
    figuresOf(s), data.source === 'queries' ? [`weight ${round(s.weight)}`, ...extra] : extra)

  // A --queries statement's file and line, so a finding about it points there (SARIF locations).
  const originOf = (s: PlannedStatement | undefined) => (s?.origin ? {origin: s.origin} : {})

  // Per statement: the remedy or the reason there is none.
  const order = data.statements.map((_, si) => si).sort((a, b) => weighted(b, data.statements[b].cost) - weighted(a, data.statements[a].cost))
  let statementFindings = 0
  for (const si of order) {
    const s = data.statements[si]
    if (s.error) {
      findings.push({
        rule: 'database/unplannable-statement', severity: 'info', target, subject: `statement ${s.id}`, metric: 'postgres.statement.unplannable', value: 1,
        message: `${named(s)} could not be planned: ${s.error}`, evidence: {queryid: s.id, sql: s.sql, reason: s.error, ...originOf(s)}, remedies: [],
      })
      continue
    }
    const shape = shapes[si]
    if (!shape || !shape.tables.some((t) => catalog.tables[t])) continue
    const share = totalBefore > 0 ? weighted(si, s.cost) / totalBefore : 0
    if (data.source === 'pg_stat_statements' && share < COSTLY_SHARE) continue
    if (statementFindings++ >= MAX_STATEMENT_FINDINGS) break
    const before = s.cost ?? 0
    const after = finalCosts[si] ?? before
    const gain = before > 0 ? (before - after) / before : 0
    const mine = chosen.filter((c) => (usedBy.get(c.id) ?? []).includes(si)).map((c) => remedies.get(c.id)!).filter(Boolean)
    const evidence: PlanEvidence = planEvidence(s.plan!, catalog, s.calls && s.rows !== undefined ? s.rows / s.calls : undefined)
    const reason = explainStatement({si, shape, gain, mine, evidence, run, candidates, covered, notes: notes[si] ?? [], bestAlone: bestAlone.get(si), minImprovement: options.minImprovement, rateOf})
    const mineJudged = chosen.filter((c) => (usedBy.get(c.id) ?? []).includes(si)).map((c) => judged.get(c.id)?.severity)
    findings.push({
      rule: 'database/costly-statement',
      severity: mineJudged.includes('warning') ? 'warning' : 'info',
      target,
      subject: `statement ${s.id}`,
      metric: 'postgres.statement.cost_share',
      value: round(share * 10000) / 10000,
      message: `${named(s, [`${percent(share)} of workload cost`])}: ${reason.text}`,
      evidence: {
        queryid: s.id, sql: s.sql, weight: s.weight, calls: s.calls, meanMs: s.meanMs, costBefore: before,
        costAfter: run.verified ? round(after) : null, improvement: run.verified ? round(gain * 1000) / 1000 : null,
        reason: reason.code, reasonText: reason.text, tables: shape.tables, plan: evidence, notes: notes[si] ?? [], ...originOf(s),
      },
      remedies: mine,
    })
  }

  for (const c of chosen) {
    const remedy = remedies.get(c.id)
    if (!remedy) continue
    const {saved, severity} = judged.get(c.id)!
    if (!severity) continue
    const est = remedy.estimate
    const gain = totalBefore > 0 ? (est.costBefore - est.costAfter) / totalBefore : 0
    // The first statement it helps, in the workload's order (most total time first from pg_stat_statements).
    const first = data.statements.find((st) => st.id === remedy.statements[0])
    const forWhat = first ? `; for ${named(first)}${remedy.statements.length > 1 ? ` and ${remedy.statements.length - 1} more` : ''}` : ''
    findings.push({
      rule: 'database/missing-index', severity, target, subject: `${c.table} ${remedy.columns.join(', ')}${c.where ? ` where ${c.where}` : ''}`.trim(),
      metric: 'postgres.index.workload_gain', value: round(gain * 10000) / 10000,
      message: run.verified
        ? `missing index on ${c.table}: ${timeSavedText(saved)}, cuts ${percent(gain)} of the workload's estimated cost (${remedy.statements.length} statement(s)), about ${formatBytes(c.estimatedBytes)}${forWhat}`
        : `likely missing index on ${c.table} (${run.notVerifiedBecause}): ${timeSavedText(saved)}, about ${formatBytes(c.estimatedBytes)}${forWhat}`,
      evidence: {definition: remedy.sql, statements: remedy.statements, sizeBytes: c.estimatedBytes, kind: c.kind, verified: run.verified, writeRatePerSecond: rate(c.table), writePenalty: penalty(c), writeRate: rateOf(c.table),
        timeSavedMsPerSecond: saved.msPerSecond, timeSaved: saved, ...originOf(first)},
      remedies: [remedy],
    })
  }

  const sizeBytes = [...remedies.values()].reduce((s, r) => s + Number((r.estimate as {sizeBytes: number}).sizeBytes), 0)
  const rejected = [...(run.selection?.rejected ?? new Map())].filter(([, r]) => r.benefit > 0).slice(0, 50)
    .map(([id, r]) => ({candidate: id, reason: r.reason, benefit: round(r.benefit), writePenalty: round(r.penalty)}))
  const hidden = hiddenWorkload(ctx)
  findings.push({
    rule: 'database/index-workload', severity: [...judged.values()].some((j) => j.severity === 'warning') ? 'warning' : 'info', target, subject: `workload of ${ctx.target.facts?.database ?? target}`,
    metric: 'postgres.index.workload_cost_ratio', value: totalBefore > 0 ? round((totalAfter / totalBefore) * 10000) / 10000 : 1,
    message: (remedies.size === 0
      ? `no index recommended for ${data.statements.length} statement(s)${run.verified ? '' : ` (${run.notVerifiedBecause})`}`
        + (hidden > 0 ? `; ${hidden} more statement(s) have texts hidden from this role (see Not read for the GRANT)` : '')
      : run.verified
        ? `${remedies.size} index(es), ${formatBytes(sizeBytes)}, cut the workload's estimated cost by ${percent(1 - totalAfter / Math.max(totalBefore, 1e-9))} (${data.statements.length} statements)`
        : `${remedies.size} likely index(es), ${formatBytes(sizeBytes)} (${run.notVerifiedBecause})`)
      + (run.verifyRealRefused ? `; ${run.verifyRealRefused}` : ''),
    evidence: {
      source: data.source, statements: data.statements.length, unplannable: data.statements.filter((s) => s.error).length,
      costBefore: round(totalBefore), costAfter: run.verified ? round(totalAfter) : null, sizeBytes, verified: run.verified, notVerified: run.notVerifiedBecause,
      candidates: candidates.length, coveredByExisting: Object.keys(covered).length, whatIfCalls: run.whatIf?.calls ?? 0, whatIfMemoHits: run.whatIf?.memoHits ?? 0,
      ...(run.verifyRealRefused ? {verifyRealRefused: run.verifyRealRefused} : {}),
      // Chosen indexes whose time saved is below minSavedMsPerSecond: kept as remedies here, without a finding of their own.
      belowTimeSavedFloor: chosen.filter((c) => judged.has(c.id) && !judged.get(c.id)!.severity)
        .map((c) => ({definition: remedies.get(c.id)!.sql, timeSavedMsPerSecond: judged.get(c.id)!.saved.msPerSecond})),
      ...(run.selection ? {selectionMoves: run.selection.improvements} : {}),
      scaling: indexScaling({
        saved: [...judged.values()].map((j) => j.saved),
        statementMsPerSecond: statementTimePerSecond(data.statements),
        costBefore: totalBefore, costAfter: run.verified ? totalAfter : totalBefore,
        anyWarning: [...judged.values()].some((j) => j.severity === 'warning'),
        measured: data.source === 'pg_stat_statements',
        threshold: options.indexesFirstShare,
      }),
      wallMs: run.wallMs, budgetBytes: options.indexBudgetBytes ?? null, maxIndexes: options.maxIndexes ?? null, minImprovement: options.minImprovement, rejected,
    },
    remedies: [...remedies.values()],
  })
  return {run, findings}
}

interface ExplainInput {
  si: number
  shape: StatementShape
  gain: number
  mine: Array<Proposed<IndexRemedy>>
  evidence: PlanEvidence
  run: AdvisorRun
  candidates: Candidate[]
  covered: Record<string, string>
  notes: string[]
  bestAlone?: number
  minImprovement: number
  rateOf: (table: string) => TableWriteRate
}

/** The one reason a statement gets its remedy or none, in the vocabulary of docs/index-advisor.md. */
function explainStatement(x: ExplainInput): Reason {
  const {run, minImprovement} = x
  if (x.mine.length > 0) {
    const names = x.mine.map((r) => r.summary.replace(/^index /, '')).join('; ')
    if (!run.verified) return {code: 'not-verified', text: `likely helped by ${names} (${run.notVerifiedBecause})`}
    return {code: 'improved', text: `estimated cost ${percent(x.gain)} lower with ${names}`}
  }
  const catalog = run.data.catalog
  const largest = x.shape.tables.map((t) => catalog.tables[t]).filter(Boolean).sort((a, b) => b.rows - a.rows)[0]
  if (largest && largest.rows < SMALL_TABLE_ROWS && x.evidence.seqScans.length === 0) {
    return {code: 'small-table', text: `table ${largest.key} has ${Math.round(largest.rows)} rows: a seq scan is cheapest`}
  }
  const mineCands = x.candidates.filter((c) => c.statements.includes(x.si))
  const rejections = mineCands.map((c) => run.selection?.rejected.get(c.id)).filter(Boolean)
  // The reason names the table of the candidate that would have helped most, not of the first one listed.
  const bestRejected = (reason: string) => mineCands.filter((c) => run.selection?.rejected.get(c.id)?.reason === reason)
    .sort((a, b) => (run.selection!.rejected.get(b.id)!.benefit - run.selection!.rejected.get(a.id)!.benefit))[0]
  if (rejections.some((r) => r!.reason === 'write-heavy')) {
    // The declined candidate that would have gained the most, with both sides of its trade-off.
    const c = bestRejected('write-heavy')!
    const r = run.selection!.rejected.get(c.id)!
    return {code: 'write-heavy', text: `write-heavy table ${c.table}: index cost outweighs the read gain: ${tradeOffText(r.benefit, r.penalty, x.rateOf(c.table))}`}
  }
  if (rejections.some((r) => r!.reason === 'budget')) {
    const c = bestRejected('budget')!
    return {code: 'budget', text: `an index on ${c.table} (about ${formatBytes(c.estimatedBytes)}) would help but does not fit --index-budget`}
  }
  if (rejections.some((r) => r!.reason === 'max-indexes')) return {code: 'max-indexes', text: 'an index would help but --max-indexes is reached'}
  if (rejections.some((r) => r!.reason === 'call-budget')) return {code: 'call-budget', text: 'the what-if call budget ran out before this statement was costed'}
  if (mineCands.length === 0) {
    if (Object.keys(x.covered).some((id) => x.shape.tables.some((t) => id.startsWith(`${t} `))) || looksOptimal(x.evidence)) {
      return {code: 'already-optimal', text: 'already optimal: existing indexes serve its predicates'}
    }
    const extra = x.notes.length ? ` (${x.notes.join('; ')})` : ''
    return {code: 'no-candidate', text: `no indexable predicate, join key or sort order${extra}`}
  }
  if (!run.verified) {
    if (looksOptimal(x.evidence)) return {code: 'already-optimal', text: 'already optimal: the plan reads through indexes'}
    return {code: 'not-verified', text: run.notVerifiedBecause ?? 'not verified'}
  }
  const best = x.bestAlone ?? 0
  if (best < 0.01) return {code: 'already-optimal', text: 'already optimal: no candidate index lowers its estimated cost'}
  return {code: 'below-min-improvement', text: `gain ${percent(best)} below --min-improvement ${percent(minImprovement)}`}
}

export const indexAdvisor: Advisor = {
  id: 'index',
  scope: 'postgres',
  description: 'Workload index advisor: candidate indexes from the parsed workload, chosen for the whole workload and proven with hypopg what-if plans',
  async advise(ctx) {
    try {
      reportHiddenWorkload(ctx)
      return (await runIndexAdvisor(ctx))?.findings ?? []
    } catch (error) {
      throw new Error(`index advisor: ${errorMessage(error)}`)
    }
  },
}
