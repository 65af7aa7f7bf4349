/**
 * The index advisor's word for the path verdict (src/core/verdict.ts): whether "fix the indexes first" is the way
 * forward, i.e. whether its index set removes most of the database's statement time.
 *
 * share = Σ time saved per second by the recommended indexes (severity.ts: calls/s × mean time × what-if cost cut)
 *         / the planned statements' time per second (statementTimePerSecond).
 * Called for when the share is at least `indexesFirstShare` (default 0.5: "most of the cost") and at least one index
 * saves enough to be a warning. For --queries workloads, which have no measured time, the planner's cost cut of the
 * workload stands in for the share.
 */
import type {ScalingAssessment} from '../../core/types.js'
import {percent as pct, round} from '../../core/numbers.js'
import type {PlannedStatement} from '../../readings/postgres.js'
import type {TimeSaved} from './severity.js'

export const DEFAULT_INDEXES_FIRST_SHARE = 0.5

/**
 * The planned statements' time per second (ms/s): calls per second × mean time, over the same period as the time
 * saved (the plans probe's weights, which count since the statistics reset whatever the window), so the share
 * compares like with like. The planned statements are the top ones by total time (maxStatements).
 */
export function statementTimePerSecond(planned: PlannedStatement[]): number | null {
  const total = planned.reduce((sum, s) => sum + (s.meanMs !== undefined && Number.isFinite(s.meanMs) ? s.weight * s.meanMs : 0), 0)
  return total > 0 ? total : null
}

export function indexScaling(input: {
  saved: TimeSaved[]
  /** statementTimePerSecond, or null when not measured. */
  statementMsPerSecond: number | null
  costBefore: number
  costAfter: number
  anyWarning: boolean
  /** The workload came from pg_stat_statements (measured times), not --queries. */
  measured: boolean
  threshold?: number
}): ScalingAssessment {
  const threshold = input.threshold ?? DEFAULT_INDEXES_FIRST_SHARE
  // Several indexes of the set can serve one statement, each counting the set's cut of it: once per statement.
  const perStatement = new Map<string, number>()
  for (const t of input.saved) for (const p of t.perStatement) perStatement.set(p.statement, Math.max(perStatement.get(p.statement) ?? 0, p.msPerSecond))
  const savedMs = [...perStatement.values()].reduce((sum, v) => sum + v, 0)
  const upTo = input.saved.some((t) => t.upperBound) ? 'at most ' : ''
  const costCut = input.costBefore > 0 ? Math.max(0, 1 - input.costAfter / input.costBefore) : 0
  const timed = input.measured && input.statementMsPerSecond !== null && input.statementMsPerSecond > 0
  const share = timed ? Math.min(1, savedMs / input.statementMsPerSecond!) : input.measured ? null : costCut
  const basis = timed
    ? `the recommended indexes save ${upTo}${round(savedMs, 1)} of the ${round(input.statementMsPerSecond!, 1)} ms per second the top statements take (${pct(share!)}${upTo ? '; not verified by what-if planning' : ''})`
    : `the recommended indexes cut the workload's estimated cost by ${pct(costCut)}${input.measured ? ' (statement time not measured)' : ' (a --queries workload: planner cost, not measured time)'}`
  const warranted = (share ?? 0) >= threshold && input.anyWarning
  return {
    path: 'indexes',
    warranted,
    share: share === null ? null : round(share, 4),
    decidedBy: warranted
      ? `${basis}: at least the ${pct(threshold)} that makes indexes the first step`
      : input.saved.length === 0 ? 'no index recommended' : (share ?? 0) >= threshold ? `${basis}, but no index saves enough to be a warning` : `${basis}, under ${pct(threshold)}`,
    wouldChange: warranted
      ? 'once the indexes are built, the time that remains decides the next path'
      : `indexes that would save at least ${pct(threshold)} of the statement time (options.postgres.indexAdvisor.indexesFirstShare)`,
  }
}
