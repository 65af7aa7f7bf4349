/**
 * The data contracts of chokepoint. The Snapshot is the seam between probing and analysis:
 * everything an audit concludes must be derivable from it (plus, optionally, a live planner).
 */

import type {Check, OmittedChecks, RuleInfo} from './checks.js'
import type {Remedy} from './remedies.js'
import type {FleetSummary} from './fleet.js'

/** A target kind's name; the kinds that exist are those the run's registry defines (src/core/plugin.ts). */
export type TargetKind = string

export type Severity = 'critical' | 'warning' | 'info'
export type FailOn = Severity | 'never'

/**
 * `check --baseline FILE`: the gate judged only the findings new or worse than in the baseline; the others are
 * known (`ignored`), still listed in the report.
 */
export interface GateBaseline {
  file: string
  /** Findings of this report that the baseline already had, at the same severity or worse. */
  ignored: number
  /** New or worse findings at or above failOn: what failed the gate. */
  failing: number
  /**
   * How each finding of this report compares with the baseline, by finding id: new, worse (severity rose), better
   * (fell) or unchanged. New and worse count towards the gate; better and unchanged are the known ones. SARIF's
   * baselineState, JUnit's skipped known findings and the HTML badge read it. Absent in reports of older versions.
   */
  changes?: Record<string, BaselineChange>
}
export type BaselineChange = 'new' | 'worse' | 'better' | 'unchanged'
export const SEVERITY_RANK: Record<Severity, number> = {info: 1, warning: 2, critical: 3}

export type Area =
  | 'database' | 'replication' | 'pool' | 'cache' | 'queue' | 'latency' | 'errors' | 'resources' | 'scaling'

/** A configured target, with its secret-bearing URL. Never serialised as is: see TargetInfo. */
export interface TargetSpec {
  name: string
  kind: TargetKind
  url: string
  /** The fleet group the config file puts the target in (`group:`): reports summarise and metrics label by it. */
  group?: string
  /** Kind-specific options from the config file (e.g. prometheus queries, redis sampling caps). */
  options?: Record<string, unknown>
}

/** What reports and snapshots say about a target: the URL has its password removed. */
export interface TargetInfo {
  name: string
  kind: TargetKind
  /** The target's fleet group (config `group:`); absent when the config gives none. */
  group?: string
  url: string
  status: 'ok' | 'skipped' | 'error'
  error?: string
  /** e.g. server version, role (primary/standby), cluster mode. */
  facts?: Record<string, unknown>
}

/**
 * One measured number about one subject. Rules select metrics by name; the subject names the thing
 * measured (a table, a standby, a queue, a key pattern) and becomes part of the finding's identity.
 */
export interface Metric {
  name: string
  value: number | null
  subject?: string
  /** Facts a person needs to judge the number; rules may reference them in messages and conditions. */
  evidence?: Record<string, unknown>
}

/**
 * 'skipped': the probe does not apply or is not permitted (extension missing, privilege, version): the audit is complete.
 * 'error': something that should have been readable was not (connection lost, login refused, query returned nothing):
 * the audit is incomplete (exit 3).
 */
export type ReadingStatus = 'ok' | 'skipped' | 'error'

/**
 * Input a probe read only in part although it ran (status ok): what it had to leave out, how much, and the fix.
 * A probe reports it with its output (ProbeOutput.notRead); the report lists it under "Not read" (Report.notRead).
 */
export interface ReadingGap {
  /** What was left out, plural, for a person: "statement texts", "session states". */
  what: string
  /** How many were left out, of how many in all, when counted (missing <= of). */
  missing?: number
  of?: number
  /** Why, in one line. */
  reason: string
  /** The statement or setting that fixes it, safe to paste (identifiers quoted). */
  fix?: string
}

export interface Reading {
  target: string
  probe: string
  takenAt: string
  durationMs: number
  status: ReadingStatus
  reason?: string
  /** What an ok reading had to leave out (hidden rows, an advisor's input): listed under "Not read" in the report. */
  notRead?: ReadingGap[]
  /** Seconds between the two reads of a delta probe; 0 when read once (cumulative since stats reset). */
  windowSeconds?: number
  data?: unknown
  metrics: Metric[]
}

/** Queries and commands a probe issued, per target: the overhead report of verbose mode. */
export interface OverheadEntry {
  target: string
  roundTrips: number
  commands: Array<{probe: string; text: string; count: number}>
}

export const SNAPSHOT_SCHEMA_VERSION = 1

export interface Snapshot {
  schemaVersion: typeof SNAPSHOT_SCHEMA_VERSION
  tool: {name: 'chokepoint'; version: string}
  capturedAt: string
  windowSeconds: number
  targets: TargetInfo[]
  readings: Reading[]
  overhead?: OverheadEntry[]
}

export interface Threshold {
  target: string | null
  action: string | null
}

export type {Remedy, RemedyKind, ProposedRemedy} from './remedies.js'
export type {Check, CheckStatus, OmittedChecks, RuleInfo} from './checks.js'
export type {FleetSummary, FleetGroup, FleetFinding} from './fleet.js'

export interface Finding {
  id: string
  rule: string
  severity: Severity
  area: Area
  target: string
  subject: string
  metric: string
  value: number | null
  threshold: Threshold
  message: string
  evidence: Record<string, unknown>
  remedies: Remedy[]
  /** The finding that explains this one (a cause rule's `explains` matched it): src/core/diagnosis.ts. */
  causeId?: string
}

/** How a cause's weight was measured: its part of the time measured in one part of the stack. */
export interface DiagnosisWeight {
  basis: 'database-time' | 'queue-wait' | 'request-time' | 'unmeasured'
  value: number | null
  total: number | null
  unit: string | null
  measuredBy: string
}

/** One chokepoint: a root cause, the findings it explains and the one remedy that addresses it. */
export interface DiagnosisEntry {
  /** `diag-` and the cause finding's id. */
  id: string
  rank: number
  cause: string
  rule: string
  target: string
  severity: Severity
  summary: string
  /** Findings explained, directly or through a cause it explains. */
  explains: string[]
  /** weight.value / weight.total, or null when not measured. */
  share: number | null
  weight: DiagnosisWeight
  remedy: string | null
}

/** A scaling path an advisor weighs (src/core/verdict.ts orders them). */
export type ScalingPath = 'indexes' | 'cache-centric' | 'read-replicas' | 'distributed-sql'

/** An advisor's judgement of one scaling path, carried in its finding's evidence.scaling. */
export interface ScalingAssessment {
  path: ScalingPath
  /** The advisor's own numbers call for this path. */
  warranted: boolean
  /** Share (0..1) of the database's statement time the path would address, when measured. */
  share: number | null
  /** One sentence with the numbers that decided it. */
  decidedBy: string
  /** One sentence: what would change the judgement. */
  wouldChange: string
}

/** Which path the stack's numbers point to: report.verdict (src/core/verdict.ts). */
export interface PathVerdict {
  path: ScalingPath | 'healthy' | 'not-assessed'
  headline: string
  /** The target whose numbers decided it (null when the stack as a whole did). */
  target: string | null
  share: number | null
  decidedBy: string
  wouldChange: string
  /** Every assessment the advisors made, in the order the paths are taken. */
  considered: Array<ScalingAssessment & {target: string; rule: string; finding: string}>
}

export interface SkippedEntry {
  target: string
  probe: string
  status: 'skipped' | 'error'
  reason: string
}

/** A gap of one reading or advisor, as the report lists it: where it was, and the gap. */
export interface NotReadEntry extends ReadingGap {
  target: string
  /** The probe id, or `advisor.<id>` for an advisor left with too little input. */
  probe: string
}

export const REPORT_SCHEMA_VERSION = 3

export interface Report {
  /** 3 added diagnosis and causeId, 2 added checks, checksOmitted and rules; `chokepoint report` still reads versions 1 and 2. */
  schemaVersion: typeof REPORT_SCHEMA_VERSION
  tool: {name: 'chokepoint'; version: string}
  generatedAt: string
  source: 'live' | 'snapshot'
  windowSeconds: number
  targets: TargetInfo[]
  /** Over several targets: ok, failing and skipped, and the worst findings per group (src/core/fleet.ts). */
  fleet?: FleetSummary
  findings: Finding[]
  /** The chokepoints: at most five root causes, ranked by their measured share (src/core/diagnosis.ts). */
  diagnosis: DiagnosisEntry[]
  /** The scaling path the numbers point to; absent in reports written before it existed. */
  verdict?: PathVerdict
  /** Every rule evaluated per target and subject, passing ones too (capped per rule: see checksOmitted). */
  checks: Check[]
  checksOmitted: OmittedChecks[]
  /** The rules the audit was judged by, with their thresholds as configured by default. */
  rules: RuleInfo[]
  skipped: SkippedEntry[]
  /**
   * What probes and advisors that ran had to leave out (hidden query texts, an advisor left with no statements),
   * with the fix. Absent in reports written before it existed.
   */
  notRead?: NotReadEntry[]
  summary: {critical: number; warning: number; info: number}
  gate: {failOn: FailOn; passed: boolean; incomplete: boolean; exitCode: 0 | 1 | 3; baseline?: GateBaseline}
  overhead?: OverheadEntry[]
}
