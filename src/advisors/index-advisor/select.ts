import type {Candidate} from './candidates.js'

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
}

export type RejectReason = 'no-gain' | 'below-min-improvement' | 'write-heavy' | 'budget' | 'max-indexes' | 'superseded' | 'call-budget'

export interface SelectionResult {
  chosen: Candidate[]
  /** Final per-statement costs (undefined where unplannable). */
  costs: Array<number | undefined>
  /** Why each candidate that helped something in isolation was left out. */
  rejected: Map<string, {reason: RejectReason; benefit: number; penalty: number}>
  evaluations: number
  rounds: number
}

interface Move {
  add: Candidate
  /** An already chosen index that `add` extends and replaces (Extend-style prefix extension). */
  replace?: Candidate
  net: number
  benefit: number
  penalty: number
  extraBytes: number
  score: number
  round: number
}

function extendsIndex(c: Candidate, p: Candidate): boolean {
  return c.table === p.table && c.method === p.method && c.where === p.where && c.keys.length > p.keys.length
    && p.keys.every((k, i) => k.sql === c.keys[i].sql && k.opclass === c.keys[i].opclass)
}

/**
 * Greedy configuration search over the whole workload in the spirit of Extend (Kossmann et al., VLDB 2020):
 * each round takes the move with the best net benefit per extra byte, where a move adds a candidate or widens an
 * already chosen index into a candidate it is a prefix of. Net benefit = weighted cost saved on the statements the
 * index can serve (only counting statements that end at least minImprovement below their base cost) minus the
 * index's write penalty. Candidates are re-evaluated lazily (a stale score is an upper bound in practice), which
 * keeps what-if calls close to one per candidate and statement per accepted index.
 */
export async function greedySelect(input: SelectionInput): Promise<SelectionResult> {
  const chosen: Candidate[] = []
  const current: Array<number | undefined> = input.statements.map((s) => s?.baseCost)
  const rejected: SelectionResult['rejected'] = new Map()
  let evaluations = 0
  let round = 0
  let usedBytes = 0

  const evaluate = async (add: Candidate, replace?: Candidate): Promise<Move> => {
    const config = [...chosen.filter((c) => c !== replace), add]
    const affected = new Set([...add.statements, ...(replace?.statements ?? [])])
    let benefit = 0
    for (const si of affected) {
      const s = input.statements[si]
      const before = current[si]
      if (!s || before === undefined) continue
      evaluations++
      const after = await input.costOf(si, config)
      if ((s.baseCost - after) / s.baseCost < input.minImprovement && after < before) continue
      benefit += s.weight * (before - after)
    }
    const penalty = input.penalty(add) - (replace ? input.penalty(replace) : 0)
    const extraBytes = Math.max(1, add.estimatedBytes - (replace?.estimatedBytes ?? 0))
    const net = benefit - penalty
    return {add, replace, net, benefit, penalty, extraBytes, score: net / extraBytes, round}
  }

  let queue: Move[] = []
  for (const c of input.candidates) {
    if (input.stop?.()) break
    const m = await evaluate(c)
    if (m.benefit > 0) queue.push(m)
    else rejected.set(c.id, {reason: 'no-gain', benefit: 0, penalty: m.penalty})
    if (m.benefit > 0 && m.net <= 0) rejected.set(c.id, {reason: 'write-heavy', benefit: m.benefit, penalty: m.penalty})
  }
  queue = queue.filter((m) => m.net > 0)

  while (queue.length > 0) {
    if (input.maxIndexes !== undefined && chosen.length >= input.maxIndexes && !queue.some((m) => m.replace)) break
    queue.sort((a, b) => b.score - a.score)
    const top = queue.shift()!
    const fits = input.budgetBytes === undefined || usedBytes + top.extraBytes <= input.budgetBytes
    const capped = !top.replace && input.maxIndexes !== undefined && chosen.length >= input.maxIndexes
    if (!fits || capped) {
      rejected.set(top.add.id, {reason: fits ? 'max-indexes' : 'budget', benefit: top.benefit, penalty: top.penalty})
      continue
    }
    if (top.replace && !chosen.includes(top.replace)) continue
    if (top.round !== round) {
      if (input.stop?.()) {
        rejected.set(top.add.id, {reason: 'call-budget', benefit: top.benefit, penalty: top.penalty})
        continue
      }
      const fresh = await evaluate(top.add, top.replace)
      if (fresh.net > 0) queue.push(fresh)
      else rejected.set(top.add.id, {reason: fresh.benefit > 0 ? 'write-heavy' : 'superseded', benefit: fresh.benefit, penalty: fresh.penalty})
      continue
    }
    // Accept: the move's score is fresh for this configuration and is the best in the queue.
    if (top.replace) {
      chosen.splice(chosen.indexOf(top.replace), 1)
      rejected.set(top.replace.id, {reason: 'superseded', benefit: 0, penalty: 0})
    }
    chosen.push(top.add)
    rejected.delete(top.add.id)
    usedBytes += top.extraBytes
    round++
    for (const si of new Set([...top.add.statements, ...(top.replace?.statements ?? [])])) {
      if (input.statements[si] && current[si] !== undefined) current[si] = await input.costOf(si, chosen)
    }
    // Candidates extending the newly chosen index become replacement moves.
    for (const c of input.candidates) {
      if (!chosen.includes(c) && extendsIndex(c, top.add)) queue.push({add: c, replace: top.add, net: Infinity, benefit: 0, penalty: 0, extraBytes: 1, score: Infinity, round: -1})
    }
    queue = queue.filter((m) => m.add !== top.add)
  }

  // Drop indexes that later choices made redundant (their removal costs nothing above their write penalty).
  for (const p of [...chosen]) {
    const without = chosen.filter((c) => c !== p)
    let loss = 0
    for (const si of p.statements) {
      const s = input.statements[si]
      if (!s || current[si] === undefined) continue
      loss += s.weight * ((await input.costOf(si, without)) - current[si]!)
    }
    if (loss <= input.penalty(p)) {
      chosen.splice(chosen.indexOf(p), 1)
      rejected.set(p.id, {reason: 'superseded', benefit: loss, penalty: input.penalty(p)})
      for (const si of p.statements) if (current[si] !== undefined) current[si] = await input.costOf(si, chosen)
    }
  }
  return {chosen, costs: current, rejected, evaluations, rounds: round}
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
