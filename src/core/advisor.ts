import type {Progress} from './progress.js'
import type {EffectiveRule} from './rules.js'
import type {ProposedRemedy} from './remedies.js'
import type {Finding, Reading, ReadingGap, Snapshot, TargetInfo, TargetKind, TargetSpec} from './types.js'

/** A finding as an advisor raises it: the engine adds id and area from the rule, and applies the user's overrides. */
export type AdvisorFinding = Omit<Finding, 'id' | 'area' | 'threshold' | 'remedies'> & {threshold?: Finding['threshold']; remedies: ProposedRemedy[]}

export interface AdvisorContext {
  snapshot: Snapshot
  /** The target advised on (undefined for stack-wide advisors, which see every target). */
  target?: TargetInfo
  spec?: TargetSpec
  readings: Reading[]
  /** Live connections by target name, present only in a live audit: advisors must work without them. */
  live: Map<string, unknown>
  /** In a live audit without live connections, why (a fleet larger than --concurrency closes each after its sample). */
  liveUnavailable?: string
  rules: (targetName: string) => EffectiveRule[]
  options: Record<string, unknown>
  log: (message: string) => void
  /** Progress of a long loop (the index advisor's what-if plans); absent in hand-built contexts. */
  progress?: Progress
  /**
   * Says the advisor was left with too little input to advise on (e.g. no statement to plan because their texts are
   * hidden), with the fix: the report lists it under "Not read" as `advisor.<id>`. Absent in hand-built contexts.
   */
  notRead?: (gap: ReadingGap) => void
}

export interface Advisor {
  id: string
  /** 'stack' advisors reason across targets (e.g. a pool chain from app to PgBouncer to PostgreSQL). */
  scope: TargetKind | 'stack'
  description: string
  advise(ctx: AdvisorContext): Promise<AdvisorFinding[]>
}
