/**
 * The severity of an index proposal by the time it would save, not by the cost ratio alone: a statement already
 * taking about a millisecond, run a few times a minute, is no missing-index warning even when an index "cuts 91%"
 * of its estimated cost.
 *
 * Time saved per second = Σ over the statements the index serves of calls per second × mean time × fraction
 * saved (the what-if cost cut of the final set). Mean times are pg_stat_statements' own (measured); for --queries
 * statements, which have no measured time, the planner's cost cut is turned into time with the calibrated time
 * per cost unit (write-cost.ts, estimated). Without what-if plans the fraction is unknown and taken as 1: an upper
 * bound, said as "at most".
 *
 * A warning when it saves at least `warnSavedMsPerSecond` (default 10 ms/s, 1% of one core's time) in all, or at
 * least `warnSavedMsPerCall` (default 5 ms) on each call of one statement it serves: the first is load, the second is
 * latency a user waits for, and at --window 0 only the second is independent of how long the statistics have run
 * (a per-second figure is an average over that period). Otherwise info. Below
 * `minSavedMsPerSecond` (default 0: off): not reported as a finding (the index stays in the workload finding's
 * remedies, with its figure). The floor is off by default because at --window 0 a per-second figure is an average
 * over the statistics' period: a floor would make a once-busy statement's index vanish as the period grows, where
 * the choice itself (reads against writes over the same period) does not move; the severity may go from warning to
 * info that way, never the proposal.
 */
import type {PlannedStatement} from '../../readings/postgres.js'
import {CALIBRATION} from './write-cost.js'

export const DEFAULT_WARN_SAVED_MS_PER_SECOND = 10
export const DEFAULT_WARN_SAVED_MS_PER_CALL = 5
export const DEFAULT_MIN_SAVED_MS_PER_SECOND = 0

export interface TimeSaved {
  /** Milliseconds of statement time saved per second (the sum over the statements). */
  msPerSecond: number
  /** measured: pg_stat_statements mean times; estimated: planner cost x calibrated time per cost unit. */
  basis: 'measured' | 'estimated'
  /** Without what-if plans the fraction saved is unknown: msPerSecond is then an upper bound (fraction 1). */
  upperBound: boolean
  perStatement: Array<{statement: string; msPerCall: number; msPerSecond: number}>
}

export function timeSaved(statements: PlannedStatement[], helped: number[], finalCosts: Array<number | undefined>, verified: boolean, measured: boolean): TimeSaved {
  const perStatement: TimeSaved['perStatement'] = []
  let estimated = false
  for (const si of helped) {
    const s = statements[si]
    const before = s.cost ?? 0
    if (!(before > 0)) continue
    const after = verified ? (finalCosts[si] ?? before) : 0
    const fraction = Math.min(1, Math.max(0, (before - after) / before))
    let msPerCall: number
    if (measured && s.meanMs !== undefined && Number.isFinite(s.meanMs)) msPerCall = s.meanMs * fraction
    else {
      estimated = true
      msPerCall = ((before - after) * CALIBRATION.usPerCostUnit) / 1000
    }
    perStatement.push({statement: s.id, msPerCall: round(msPerCall), msPerSecond: round(s.weight * msPerCall)})
  }
  const msPerSecond = perStatement.reduce((sum, p) => sum + p.msPerSecond, 0)
  return {msPerSecond: round(msPerSecond), basis: estimated ? 'estimated' : 'measured', upperBound: !verified, perStatement}
}

export interface SeverityFloors {
  warnSavedMsPerSecond?: number
  warnSavedMsPerCall?: number
  minSavedMsPerSecond?: number
}

/** warning, info, or undefined: below the floor, not worth a finding of its own. */
export function severityByTimeSaved(saved: TimeSaved, floors: SeverityFloors): 'warning' | 'info' | undefined {
  const warn = floors.warnSavedMsPerSecond ?? DEFAULT_WARN_SAVED_MS_PER_SECOND
  const min = floors.minSavedMsPerSecond ?? DEFAULT_MIN_SAVED_MS_PER_SECOND
  const warnPerCall = floors.warnSavedMsPerCall ?? DEFAULT_WARN_SAVED_MS_PER_CALL
  if (saved.msPerSecond < min) return undefined
  const perCall = Math.max(0, ...saved.perStatement.map((p) => p.msPerCall))
  return saved.msPerSecond >= warn || perCall >= warnPerCall ? 'warning' : 'info'
}

/** "saves about 12 ms/s (measured: calls/s x mean time x fraction saved)". */
export function timeSavedText(saved: TimeSaved): string {
  const v = saved.msPerSecond
  const shown = v >= 100 ? Math.round(v).toLocaleString('en-US') : v >= 1 ? String(Math.round(v * 10) / 10) : String(Number(v.toPrecision(2)))
  return `${saved.upperBound ? 'saves at most' : 'saves about'} ${shown} ms of statement time per second (${saved.basis})`
}

function round(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(6)) : 0
}
