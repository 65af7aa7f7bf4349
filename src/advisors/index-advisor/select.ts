import {candidateId, type Candidate} from './candidates.js'

export interface SelectionInput {
  /** Per statement: weight (calls per second) and cost with the existing indexes only. */
  statements: Array<{weight: number; baseCost: number} | undefined>
  candidates: Candidate[]
  /** The statement's cost under a configuration (what-if or an estimate). */
  costOf: (statement: number, config: Candidate[]) => Promise<number>
  /** Maintenance cost per second of an index, in the planner's cost units (see writePenalty). */
  penalty: (c: Candidate) => number
  budgetBytes?: number
  maxIndexes?: number
  /** A statement counts as helped only when its cost falls by at least this ratio from its base cost. */
  minImprovement: number
  /** Stop before starting an evaluation once this returns true (what-if call budget). */
  stop?: () => boolean
  /** Candidates that may help only together (a join's two sides): tried as one move when either gains nothing alone. */
  pairs?: Array<[Candidate, Candidate]>
  /**
   * The size of an index the selection builds itself (a merge of two chosen ones, see mergeChosen): hypopg's
   * estimate, or undefined when it cannot be built. Without it only merges into an existing candidate are made.
   */
  sizeOf?: (c: Candidate) => Promise<number | undefined>
  /** How much the whole workload's weighted cost may rise by merging (default MERGE_TOLERANCE). */
  mergeTolerance?: number
}

export type RejectReason = 'no-gain' | 'below-min-improvement' | 'write-heavy' | 'budget' | 'max-indexes' | 'superseded' | 'merged' | 'call-budget'

/** What one chosen index is worth in the final set: the drop-one delta (the rest of the set kept). */
export interface IndexGain {
  /** The statements whose cost rises without it: their weighted costs without it and with the whole set. */
  statements: Array<{statement: number; without: number; with: number}>
  /** Σ (without − with) over those statements, weighted. */
  benefit: number
}

export interface SelectionResult {
  chosen: Candidate[]
  /** Final per-statement costs (undefined where unplannable). */
  costs: Array<number | undefined>
  /** Why each candidate that helped something in isolation was left out. */
  rejected: Map<string, {reason: RejectReason; benefit: number; penalty: number}>
  /** Per chosen index, its measured gain in the final set (drop-one). */
  gains: Map<string, IndexGain>
  /** Moves the improvement pass made after the greedy pass. */
  improvements: {adds: number; swaps: number; drops: number; merges: number}
  evaluations: number
  rounds: number
}

interface Move {
  adds: Candidate[]
  /** An already chosen index that `adds[0]` extends and replaces (Extend-style prefix extension). */
  replace?: Candidate
  net: number
  benefit: number
  /** Σ weight × cost saved on every statement it lowers, min-improvement or not (what it may add to a set that already helps them). */
  rawBenefit: number
  penalty: number
  extraBytes: number
  score: number
  round: number
}

/** Whether c holds everything p does (p's keys as a key prefix, p's INCLUDE among c's columns) and more. */
function extendsIndex(c: Candidate, p: Candidate): boolean {
  if (c === p || c.table !== p.table || c.method !== p.method || c.where !== p.where || c.keys.length < p.keys.length) return false
  if (!p.keys.every((k, i) => k.sql === c.keys[i].sql && k.opclass === c.keys[i].opclass && !!k.desc === !!c.keys[i].desc)) return false
  const columns = new Set([...c.keys.map((k) => k.sql), ...(c.include ?? []).map((x) => `"${x.replace(/"/g, '""')}"`)])
  const pInclude = (p.include ?? []).map((x) => `"${x.replace(/"/g, '""')}"`)
  if (!pInclude.every((x) => columns.has(x))) return false
  return c.keys.length > p.keys.length || (c.include ?? []).length > pInclude.length
}

/** Candidates tried as swaps and additions after the greedy pass: the most valuable alone, at most. */
const IMPROVE_POOL = 40
const IMPROVE_PASSES = 4

/**
 * Greedy configuration search over the whole workload in the spirit of Extend (Kossmann et al., VLDB 2020):
 * each round takes the move with the best net benefit per extra byte, where a move adds a candidate (or a pair of
 * candidates on a join's two sides that help only together) or widens an already chosen index into a candidate
 * holding it. Net benefit = weighted cost saved on the statements the index can serve (only counting statements
 * that end at least minImprovement below their base cost) minus the index's write penalty. Candidates are
 * re-evaluated lazily, which keeps what-if calls close to one per candidate and statement per accepted index.
 *
 * Then an improvement pass (local search on the same objective): drop an index the others make unnecessary, add
 * one that still fits, swap a chosen index for one that is worth more and fits once it is gone (greedy by ratio
 * fills a budget with small indexes and then rejects the big one that was worth more). Last, every index must earn
 * its place in the final set: without it, some statement loses at least minImprovement of its base cost and the
 * loss outweighs its write penalty; otherwise it is dropped (it changes no plan that matters). `gains` holds each
 * kept index's drop-one delta, which is what the report states.
 */
export async function greedySelect(input: SelectionInput): Promise<SelectionResult> {
  const chosen: Candidate[] = []
  const current: Array<number | undefined> = input.statements.map((s) => s?.baseCost)
  const rejected: SelectionResult['rejected'] = new Map()
  let evaluations = 0
  let round = 0
  let usedBytes = 0

  const evaluate = async (adds: Candidate[], replace?: Candidate): Promise<Move> => {
    const config = [...chosen.filter((c) => c !== replace), ...adds]
    const affected = new Set([...adds.flatMap((a) => a.statements), ...(replace?.statements ?? [])])
    let benefit = 0
    let rawBenefit = 0
    for (const si of affected) {
      const s = input.statements[si]
      const before = current[si]
      if (!s || before === undefined) continue
      evaluations++
      const after = await input.costOf(si, config)
      if (after < before) rawBenefit += s.weight * (before - after)
      if ((s.baseCost - after) / s.baseCost < input.minImprovement && after < before) continue
      benefit += s.weight * (before - after)
    }
    const penalty = adds.reduce((sum, a) => sum + input.penalty(a), 0) - (replace ? input.penalty(replace) : 0)
    const extraBytes = Math.max(1, adds.reduce((sum, a) => sum + a.estimatedBytes, 0) - (replace?.estimatedBytes ?? 0))
    const net = benefit - penalty
    return {adds, replace, net, benefit, rawBenefit, penalty, extraBytes, score: net / extraBytes, round}
  }

  const alone = new Map<string, Move>()
  let queue: Move[] = []
  for (const c of input.candidates) {
    if (input.stop?.()) break
    const m = await evaluate([c])
    alone.set(c.id, m)
    if (m.benefit > 0) queue.push(m)
    else rejected.set(c.id, {reason: 'no-gain', benefit: 0, penalty: m.penalty})
    if (m.benefit > 0 && m.net <= 0) rejected.set(c.id, {reason: 'write-heavy', benefit: m.benefit, penalty: m.penalty})
  }
  // A join's two sides: a pair is worth trying when one of its members gains nothing alone.
  for (const [a, b] of input.pairs ?? []) {
    if (input.stop?.()) break
    const ma = alone.get(a.id)
    const mb = alone.get(b.id)
    if (!ma || !mb || (ma.benefit > 0 && mb.benefit > 0)) continue
    const m = await evaluate([a, b])
    if (m.net > 0 && m.benefit > Math.max(ma.benefit, mb.benefit)) queue.push(m)
  }
  queue = queue.filter((m) => m.net > 0)

  while (queue.length > 0) {
    if (input.maxIndexes !== undefined && chosen.length >= input.maxIndexes && !queue.some((m) => m.replace)) break
    queue.sort((a, b) => b.score - a.score)
    const top = queue.shift()!
    if (top.adds.some((c) => chosen.includes(c))) {
      // Half of a pair already chosen: the other half is a move of its own now.
      const rest = top.adds.filter((c) => !chosen.includes(c))
      if (rest.length > 0 && !top.replace) queue.push({...top, adds: rest, round: -1})
      continue
    }
    const fits = input.budgetBytes === undefined || usedBytes + top.extraBytes <= input.budgetBytes
    const capped = !top.replace && input.maxIndexes !== undefined && chosen.length + top.adds.length > input.maxIndexes
    if (!fits || capped) {
      for (const c of top.adds) rejected.set(c.id, {reason: fits ? 'max-indexes' : 'budget', benefit: top.benefit, penalty: top.penalty})
      continue
    }
    if (top.replace && !chosen.includes(top.replace)) continue
    if (top.round !== round) {
      if (input.stop?.()) {
        for (const c of top.adds) rejected.set(c.id, {reason: 'call-budget', benefit: top.benefit, penalty: top.penalty})
        continue
      }
      const fresh = await evaluate(top.adds, top.replace)
      if (fresh.net > 0) queue.push(fresh)
      else for (const c of top.adds) rejected.set(c.id, {reason: fresh.benefit > 0 ? 'write-heavy' : 'superseded', benefit: fresh.benefit, penalty: fresh.penalty})
      continue
    }
    // Accept: the move's score is fresh for this configuration and is the best in the queue.
    if (top.replace) {
      chosen.splice(chosen.indexOf(top.replace), 1)
      rejected.set(top.replace.id, {reason: 'superseded', benefit: 0, penalty: 0})
    }
    chosen.push(...top.adds)
    for (const c of top.adds) rejected.delete(c.id)
    usedBytes += top.extraBytes
    round++
    for (const si of new Set([...top.adds.flatMap((a) => a.statements), ...(top.replace?.statements ?? [])])) {
      if (input.statements[si] && current[si] !== undefined) current[si] = await input.costOf(si, chosen)
    }
    // Candidates extending a newly chosen index become replacement moves.
    for (const add of top.adds) {
      for (const c of input.candidates) {
        if (!chosen.includes(c) && extendsIndex(c, add)) queue.push({adds: [c], replace: add, net: Infinity, benefit: 0, rawBenefit: 0, penalty: 0, extraBytes: 1, score: Infinity, round: -1})
      }
    }
    queue = queue.filter((m) => !m.adds.some((c) => top.adds.includes(c)))
  }

  const improvements = {...(await improve(input, chosen, alone, rejected)), merges: 0}
  const kept = chosen.length
  const sizes = new Map<string, number | undefined>()
  improvements.merges += await mergeChosen(input, chosen, rejected, sizes)
  let gains = await finalGains(input, chosen, rejected, improvements)
  // Room the merges and the final check freed under a budget or cap is offered once more to the improvement pass.
  if (chosen.length < kept && (input.budgetBytes !== undefined || input.maxIndexes !== undefined)) {
    const more = await improve(input, chosen, alone, rejected)
    for (const k of ['adds', 'swaps', 'drops'] as const) improvements[k] += more[k]
    const merges = await mergeChosen(input, chosen, rejected, sizes)
    improvements.merges += merges
    if (more.adds + more.swaps + more.drops + merges > 0) gains = await finalGains(input, chosen, rejected, improvements)
  }
  for (const [si, s] of input.statements.entries()) if (s && current[si] !== undefined) current[si] = await input.costOf(si, chosen)
  return {chosen, costs: current, rejected, gains, improvements, evaluations, rounds: round}
}

/** The statement's cost as the objective counts it: its base cost unless it falls by at least minImprovement. */
async function effectiveCost(input: SelectionInput, si: number, config: Candidate[]): Promise<number> {
  const s = input.statements[si]!
  const cost = await input.costOf(si, config)
  return (s.baseCost - cost) / s.baseCost >= input.minImprovement ? cost : s.baseCost
}

/** Objective change (weighted effective cost plus write penalties) from config `from` to config `to`. */
async function objectiveDelta(input: SelectionInput, from: Candidate[], to: Candidate[]): Promise<number> {
  const changed = [...from.filter((c) => !to.includes(c)), ...to.filter((c) => !from.includes(c))]
  const affected = new Set(changed.flatMap((c) => c.statements))
  let delta = 0
  for (const si of affected) {
    const s = input.statements[si]
    if (!s) continue
    delta += s.weight * ((await effectiveCost(input, si, to)) - (await effectiveCost(input, si, from)))
  }
  return delta + to.reduce((sum, c) => sum + input.penalty(c), 0) - from.reduce((sum, c) => sum + input.penalty(c), 0)
}

const bytesOf = (config: Candidate[]) => config.reduce((sum, c) => sum + c.estimatedBytes, 0)

/** Drop, add and swap moves on the greedy set while one lowers the objective (first improvement, bounded passes). */
async function improve(input: SelectionInput, chosen: Candidate[], alone: Map<string, Move>, rejected: SelectionResult['rejected']): Promise<{adds: number; swaps: number; drops: number}> {
  const counts = {adds: 0, swaps: 0, drops: 0}
  const fits = (config: Candidate[]) => (input.budgetBytes === undefined || bytesOf(config) <= input.budgetBytes)
    && (input.maxIndexes === undefined || config.length <= input.maxIndexes)
  // A move must lower the objective by more than rounding.
  const epsilon = 1e-9 * Math.max(1, input.statements.reduce((sum, s) => sum + (s ? s.weight * s.baseCost : 0), 0))
  const pool = () => [...alone.values()].filter((m) => m.net > 0 && !chosen.includes(m.adds[0]))
    .sort((a, b) => b.net - a.net).slice(0, IMPROVE_POOL).map((m) => m.adds[0])
  // Additions also try what helps only on top of the set: alone below --min-improvement (an index on a dimension
  // that cuts 5% of a statement whose fact-table scan dominates it) but a large cut once the set has removed that
  // scan. Ranked by raw gain per byte: they are small, and the pool by net gain never reaches them.
  const addPool = () => {
    const main = pool()
    const more = [...alone.values()].filter((m) => m.net <= 0 && m.rawBenefit - m.penalty > 0 && !chosen.includes(m.adds[0]) && !main.includes(m.adds[0]))
      .sort((a, b) => (b.rawBenefit - b.penalty) / b.extraBytes - (a.rawBenefit - a.penalty) / a.extraBytes).slice(0, IMPROVE_POOL).map((m) => m.adds[0])
    return [...main, ...more]
  }
  const apply = (drop: Candidate | undefined, add: Candidate | undefined) => {
    if (drop) {
      chosen.splice(chosen.indexOf(drop), 1)
      // Swapped out for a candidate worth more: it would still help, but not within the budget or the cap.
      const swapped = add && (input.budgetBytes !== undefined && bytesOf([...chosen, add, drop]) > input.budgetBytes ? 'budget' : input.maxIndexes !== undefined ? 'max-indexes' : undefined)
      rejected.set(drop.id, {reason: swapped || 'superseded', benefit: swapped ? (alone.get(drop.id)?.benefit ?? 0) : 0, penalty: input.penalty(drop)})
    }
    if (add) {
      chosen.push(add)
      rejected.delete(add.id)
    }
  }
  for (let pass = 0; pass < IMPROVE_PASSES; pass++) {
    let moved = false
    for (const c of [...chosen]) {
      if (input.stop?.()) return counts
      if ((await objectiveDelta(input, chosen, chosen.filter((x) => x !== c))) <= 0) {
        apply(c, undefined)
        counts.drops++
        moved = true
      }
    }
    for (const d of addPool()) {
      if (input.stop?.()) return counts
      const to = [...chosen, d]
      if (fits(to) && (await objectiveDelta(input, chosen, to)) < -epsilon && (await worthIn(input, to, d)).earns) {
        apply(undefined, d)
        counts.adds++
        moved = true
      }
    }
    // Swaps: what each chosen index is worth now (drop-one), against what a pool candidate is worth alone (an
    // upper bound in practice), so only promising swaps are planned. Without a budget or a cap an add followed by a
    // drop does what a swap does, so swaps are for when room is short.
    const constrained = input.budgetBytes !== undefined || input.maxIndexes !== undefined
    if (!constrained) {
      if (!moved) break
      continue
    }
    const worth = new Map<string, number>()
    for (const c of chosen) worth.set(c.id, await objectiveDelta(input, chosen, chosen.filter((x) => x !== c)))
    swap: for (const d of pool()) {
      const gainAlone = alone.get(d.id)?.net ?? 0
      for (const c of [...chosen].sort((a, b) => (worth.get(a.id) ?? 0) - (worth.get(b.id) ?? 0))) {
        if (input.stop?.()) return counts
        if (gainAlone <= (worth.get(c.id) ?? 0)) continue
        const to = [...chosen.filter((x) => x !== c), d]
        if (!fits(to)) continue
        if ((await objectiveDelta(input, chosen, to)) < -epsilon && (await worthIn(input, to, d)).earns) {
          apply(c, d)
          counts.swaps++
          moved = true
          for (const x of chosen) worth.set(x.id, await objectiveDelta(input, chosen, chosen.filter((y) => y !== x)))
          continue swap
        }
      }
    }
    if (!moved) break
  }
  return counts
}

/** What index c is worth in config (drop-one): whether it earns its place (see finalGains), its loss, per statement. */
async function worthIn(input: SelectionInput, config: Candidate[], c: Candidate): Promise<{earns: boolean; loss: number; statements: IndexGain['statements']}> {
  const without = config.filter((x) => x !== c)
  let loss = 0
  let earns = false
  const statements: IndexGain['statements'] = []
  for (const si of new Set(c.statements)) {
    const s = input.statements[si]
    if (!s) continue
    const [rawWith, rawWithout] = [await input.costOf(si, config), await input.costOf(si, without)]
    const effWithout = await effectiveCost(input, si, without)
    const effLoss = effWithout - (await effectiveCost(input, si, config))
    loss += s.weight * effLoss
    // It earns its place when it cuts some statement by at least minImprovement of what that statement would cost
    // without it (the set's other indexes kept): measured against the base cost, an index that takes a statement
    // from 1,521 to 300 once the fact-table index has taken it from 25,238 to 1,521 "cut 5%" and was dropped.
    if (effLoss > 0 && effLoss >= input.minImprovement * effWithout) earns = true
    if (rawWithout > rawWith * (1 + 1e-9)) statements.push({statement: si, without: s.weight * rawWithout, with: s.weight * rawWith})
  }
  return {earns: earns && loss - input.penalty(c) > 0, loss, statements}
}

/**
 * Each index's drop-one delta in the final set. An index is kept only if, without it, some statement loses at
 * least minImprovement of its base cost (in the objective's effective costs) and the weighted loss outweighs its
 * write penalty: the weakest failing index is dropped and the rest re-measured, until every index earns its place.
 */
async function finalGains(input: SelectionInput, chosen: Candidate[], rejected: SelectionResult['rejected'], counts: {drops: number}): Promise<Map<string, IndexGain>> {
  for (;;) {
    const gains = new Map<string, IndexGain>()
    let weakest: {c: Candidate; loss: number} | undefined
    for (const c of chosen) {
      const {earns, loss, statements} = await worthIn(input, chosen, c)
      const net = loss - input.penalty(c)
      if (!earns) {
        if (!weakest || net < weakest.loss) weakest = {c, loss: net}
      } else {
        gains.set(c.id, {statements, benefit: statements.reduce((sum, x) => sum + x.without - x.with, 0)})
      }
    }
    if (!weakest) return gains
    chosen.splice(chosen.indexOf(weakest.c), 1)
    rejected.set(weakest.c.id, {reason: 'superseded', benefit: Math.max(0, weakest.loss + input.penalty(weakest.c)), penalty: input.penalty(weakest.c)})
    counts.drops++
  }
}

/**
 * How much merging may raise the whole workload's weighted what-if cost, all merges together: this share of what
 * the chosen set saves (the workload's cost with the existing indexes only, minus its cost with the set). Not a
 * share of the set's remaining cost: the better the set, the smaller that is, and on the analytical benchmark (the
 * set leaving 3.4% of the cost) folding three covering variants of `sales (date_key)` into one raised it 2 to 4.6%
 * each, 0.1% of the workload, for 26 to 44 MB saved per merge at scale 0.1.
 */
export const MERGE_TOLERANCE = 0.02
/** PostgreSQL's INDEX_MAX_KEYS: key and INCLUDE columns together. */
const MAX_INDEX_COLUMNS = 32

/** An index's identity with its INCLUDE columns as a set: the same index whatever their order. */
const contentOf = (c: Pick<Candidate, 'table' | 'method' | 'keys' | 'where' | 'include'>) => candidateId({...c, include: c.include ? [...c.include].sort() : undefined})

const sameKey = (a: Candidate['keys'][number], b: Candidate['keys'][number]) => a.sql === b.sql && (a.opclass ?? '') === (b.opclass ?? '') && !!a.desc === !!b.desc

/**
 * The one index that does the work of a and b, or undefined when they are not near-copies: both b-trees on the
 * same table with the same predicate, the keys of one equal to or a prefix of the other's. The merged index has
 * the longer key and INCLUDEs the union of both INCLUDE lists less the columns that are keys (an expression key's
 * column stays included: an index-only scan needs it).
 */
export function mergedIndex(a: Candidate, b: Candidate): Omit<Candidate, 'estimatedBytes'> & {estimatedBytes?: number} | undefined {
  if (a === b || a.table !== b.table || a.method !== 'btree' || b.method !== 'btree' || (a.where ?? '') !== (b.where ?? '')) return undefined
  const [long, short] = a.keys.length >= b.keys.length ? [a, b] : [b, a]
  if (!short.keys.every((k, i) => sameKey(k, long.keys[i]))) return undefined
  const keyColumns = new Set(long.keys.filter((k) => k.sql.startsWith('"')).map((k) => k.column))
  // In name order, so the index a chain of merges ends at does not depend on the order they were made in.
  const include = [...new Set([...(long.include ?? []), ...(short.include ?? [])])].filter((x) => !keyColumns.has(x)).sort()
  if (long.keys.length + include.length > MAX_INDEX_COLUMNS) return undefined
  const shape = {table: long.table, method: long.method, keys: long.keys, where: long.where, include: include.length > 0 ? include : undefined}
  const statements = [...new Set([...long.statements, ...short.statements])].sort((x, y) => x - y)
  return {...shape, id: candidateId(shape), kind: include.length > 0 ? 'covering' : long.kind, statements}
}

/**
 * Merge step, after the improvement pass: near-copies among the chosen indexes (the same leading keys, each
 * making one more statement index-only: `sales (date_key) INCLUDE (store_key)`, `... INCLUDE (revenue)`) become
 * one index (mergedIndex), when it is smaller than the two together and the whole workload's weighted what-if
 * cost with it rises, counting every merge made before, by at most MERGE_TOLERANCE of what the set saves. Of the
 * merges that qualify, the one costing least is made first (then the one saving most bytes), until none does. A
 * merge only shrinks the set (one index instead of two, fewer bytes), so the budget and --max-indexes still hold.
 * Returns how many merges were made.
 */
async function mergeChosen(input: SelectionInput, chosen: Candidate[], rejected: SelectionResult['rejected'], sizes: Map<string, number | undefined>): Promise<number> {
  const tolerance = input.mergeTolerance ?? MERGE_TOLERANCE
  const known = new Map<string, Candidate>()
  for (const c of input.candidates) if (!known.has(contentOf(c))) known.set(contentOf(c), c)
  const weightedCost = async (config: Candidate[], statements: Iterable<number>) => {
    let sum = 0
    for (const si of statements) {
      const s = input.statements[si]
      if (s) sum += s.weight * (await input.costOf(si, config))
    }
    return sum
  }
  const all = input.statements.map((_, si) => si)
  const start = await weightedCost(chosen, all)
  const base = input.statements.reduce((sum, s) => sum + (s ? s.weight * s.baseCost : 0), 0)
  // What the merges may give back, all together: a share of what the set saves.
  const allowed = tolerance * Math.max(0, base - start)
  let now = start
  let merges = 0
  for (;;) {
    let best: {a: Candidate; b: Candidate; m: Candidate; rise: number; saved: number; name: string} | undefined
    for (const [i, a] of chosen.entries()) {
      for (const b of chosen.slice(i + 1)) {
        if (input.stop?.()) return merges
        const shape = mergedIndex(a, b)
        if (!shape) continue
        // The merged index is one of the two (the other adds nothing to it), a candidate already sized, or new.
        const content = contentOf(shape)
        let m: Candidate | undefined = content === contentOf(a) ? a : content === contentOf(b) ? b : known.get(content)
        if (m && m !== a && m !== b && !shape.statements.every((si) => m!.statements.includes(si))) m = {...m, statements: shape.statements}
        if (!m) {
          if (!sizes.has(shape.id)) {
            const fresh = {...shape, estimatedBytes: 0} as Candidate
            const bytes = input.sizeOf ? await input.sizeOf(fresh) : undefined
            sizes.set(shape.id, bytes)
          }
          const bytes = sizes.get(shape.id)
          if (bytes === undefined) continue
          m = {...shape, estimatedBytes: bytes} as Candidate
          known.set(content, m)
        }
        // Already chosen as a third index: the pair of that one with each of the two is tried on its own.
        if (chosen.some((x) => x !== a && x !== b && contentOf(x) === content)) continue
        const saved = a.estimatedBytes + b.estimatedBytes - m.estimatedBytes
        if (saved <= 0) continue
        const to = [...chosen.filter((x) => x !== a && x !== b), m]
        const affected = new Set([...a.statements, ...b.statements, ...m.statements])
        const rise = (await weightedCost(to, affected)) - (await weightedCost(chosen, affected))
        if (now + rise - start > allowed) continue
        // The least costly first, then the one saving most bytes, then by name: never by the order of the set.
        const tie = 1e-9 * Math.max(1, start)
        const name = `${m.id}\u0001${[a.id, b.id].sort().join('\u0001')}`
        if (!best || rise < best.rise - tie || (rise <= best.rise + tie && (saved > best.saved || (saved === best.saved && name < best.name)))) best = {a, b, m, rise, saved, name}
      }
    }
    if (!best) return merges
    const {a, b, m} = best
    const rest = chosen.filter((x) => x !== a && x !== b)
    rest.splice(Math.min(chosen.indexOf(a), chosen.indexOf(b)), 0, m)
    chosen.splice(0, chosen.length, ...rest)
    for (const x of [a, b]) if (x !== m) rejected.set(x.id, {reason: 'merged', benefit: 0, penalty: input.penalty(x)})
    rejected.delete(m.id)
    now += best.rise
    merges++
  }
}

/** Total weighted cost plus write penalties of a configuration (the objective both searches minimise). */
export async function workloadObjective(input: SelectionInput, config: Candidate[]): Promise<number> {
  let total = 0
  for (const [si, s] of input.statements.entries()) if (s) total += s.weight * (await input.costOf(si, config))
  return total + config.reduce((sum, c) => sum + input.penalty(c), 0)
}

/** Every subset within the budget, for checking the greedy search on small instances (2^n configurations). */
export async function exhaustiveSelect(input: SelectionInput): Promise<{chosen: Candidate[]; objective: number; configurations: number}> {
  const n = input.candidates.length
  if (n > 16) throw new Error('exhaustive search is for small instances (at most 16 candidates)')
  let best = {chosen: [] as Candidate[], objective: await workloadObjective(input, []), configurations: 1}
  for (let mask = 1; mask < 1 << n; mask++) {
    const config = input.candidates.filter((_, i) => mask & (1 << i))
    if (input.maxIndexes !== undefined && config.length > input.maxIndexes) continue
    if (input.budgetBytes !== undefined && config.reduce((s, c) => s + c.estimatedBytes, 0) > input.budgetBytes) continue
    best.configurations++
    const objective = await workloadObjective(input, config)
    if (objective < best.objective) best = {chosen: config, objective, configurations: best.configurations}
  }
  return best
}
