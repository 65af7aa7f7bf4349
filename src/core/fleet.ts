import {SEVERITY_RANK, type FailOn, type Finding, type Severity, type TargetInfo} from './types.js'

/** How many of a group's findings its summary names: the worst, in the report's order. */
export const FLEET_WORST_FINDINGS = 3

/** One finding as the fleet summary names it. */
export interface FleetFinding {
  id: string
  target: string
  rule: string
  severity: Severity
  subject: string
  message: string
}

export interface FleetCounts {
  targets: number
  /** Read, and no finding at or above the gate's --fail-on. */
  ok: number
  /** Read, with a finding at or above --fail-on. */
  failing: number
  /** Not read: unreachable, stalled, or of a kind no plugin defines. */
  skipped: number
}

export interface FleetGroup extends FleetCounts {
  /** The config's `group:`; null for the targets that have none. */
  group: string | null
  findings: {critical: number; warning: number; info: number}
  /** The worst findings of the group (at most FLEET_WORST_FINDINGS), most severe first. */
  worst: FleetFinding[]
  /** The targets not read, by name: in a fleet of hundreds, which ones is the point. */
  skippedTargets: string[]
}

/** The top of a report over several targets: how many are ok, failing and not read, and the worst per group. */
export interface FleetSummary extends FleetCounts {
  groups: FleetGroup[]
}

function failing(findings: Finding[], failOn: FailOn): boolean {
  return failOn !== 'never' && findings.some((f) => SEVERITY_RANK[f.severity] >= SEVERITY_RANK[failOn])
}

/**
 * From how many ungrouped targets a report is a fleet's. A stack of a few (a database, its replica, a cache) is one
 * system, whose report opens with the scaling path and the diagnosis, causes first; a summary of worst findings per
 * target would put symptoms above them.
 */
export const FLEET_MIN_TARGETS = 5

/**
 * The fleet summary of a report, or undefined unless the targets are grouped (config `group:`) or at least
 * FLEET_MIN_TARGETS (a report of one target, or of one small stack, does not change). Groups in
 * the order their first target is configured, the ungrouped last. `findings` must be in the report's order (worst first).
 */
export function fleetSummary(targets: readonly TargetInfo[], findings: readonly Finding[], failOn: FailOn): FleetSummary | undefined {
  const groupNames = new Set(targets.map((t) => t.group ?? null))
  const grouped = targets.some((t) => t.group !== undefined)
  if (targets.length <= 1 || (!grouped && targets.length < FLEET_MIN_TARGETS)) return undefined
  const byTarget = new Map<string, Finding[]>()
  for (const f of findings) byTarget.set(f.target, [...(byTarget.get(f.target) ?? []), f])
  const ordered = [...groupNames].sort((a, b) => (a === null ? 1 : 0) - (b === null ? 1 : 0))
  const groups = ordered.map((group): FleetGroup => {
    const members = targets.filter((t) => (t.group ?? null) === group)
    const names = new Set(members.map((t) => t.name))
    const mine = findings.filter((f) => names.has(f.target))
    const counts = {critical: 0, warning: 0, info: 0}
    for (const f of mine) counts[f.severity]++
    const skippedTargets = members.filter((t) => t.status !== 'ok').map((t) => t.name)
    const failingCount = members.filter((t) => t.status === 'ok' && failing(byTarget.get(t.name) ?? [], failOn)).length
    const worst = [...mine].sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]).slice(0, FLEET_WORST_FINDINGS)
      .map((f) => ({id: f.id, target: f.target, rule: f.rule, severity: f.severity, subject: f.subject, message: f.message}))
    return {group, targets: members.length, ok: members.length - skippedTargets.length - failingCount, failing: failingCount, skipped: skippedTargets.length,
      findings: counts, worst, skippedTargets}
  })
  const total = (key: 'ok' | 'failing' | 'skipped') => groups.reduce((n, g) => n + g[key], 0)
  return {targets: targets.length, ok: total('ok'), failing: total('failing'), skipped: total('skipped'), groups}
}

/** "12 targets: 9 ok, 2 failing, 1 skipped": the summary's first line, the same in every format. */
export function fleetLine(fleet: FleetCounts): string {
  return `${fleet.targets} target${fleet.targets === 1 ? '' : 's'}: ${fleet.ok} ok, ${fleet.failing} failing, ${fleet.skipped} skipped`
}

/** A group's name as a heading. */
export function groupLabel(group: string | null): string {
  return group ?? '(no group)'
}
