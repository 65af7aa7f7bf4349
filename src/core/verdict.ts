/**
 * The path verdict: which way a growing stack should scale, from the numbers its advisors measured.
 *
 * The seed documents frame two paths for a database that is not fast enough: put a cache in front of it (the
 * cache-centric path) or spread it over nodes (distributed SQL); read replicas sit between them, and before any of
 * them come the indexes it lacks. Each advisor that weighs one of those paths says so in its findings'
 * `evidence.scaling` (ScalingAssessment: the path, whether its numbers call for it, the share of the database's
 * statement time it would address, what decided it and what would change it). This module reads only that evidence
 * (no concrete advisor): it picks, per stack, the first path called for in the order a team should take them:
 *
 *   indexes  ->  cache-centric  ->  read replicas  ->  distributed SQL
 *
 * Cheaper and reversible remedies come first: an index removes work, a cache removes repeated reads of slowly
 * changing data (after which a replica is often not needed), replicas add read capacity, and sharding, the costliest
 * change, is only right when the others are not enough. A stack whose PostgreSQL targets were assessed and call for
 * no path is "healthy: no scaling needed"; one whose workload could not be assessed says why, never healthy.
 */
import type {Finding, NotReadEntry, PathVerdict, ScalingAssessment, ScalingPath, SkippedEntry, TargetInfo} from './types.js'

/** The order paths are taken in; the first one called for is the verdict. */
export const PATH_ORDER: readonly ScalingPath[] = ['indexes', 'cache-centric', 'read-replicas', 'distributed-sql']

export const PATH_HEADLINE: Record<PathVerdict['path'], string> = {
  'indexes': 'fix the indexes first',
  'cache-centric': 'cache-centric: put a cache in front of the database',
  'read-replicas': 'read replicas',
  'distributed-sql': 'distributed SQL: the workload outgrows one node',
  'healthy': 'healthy: no scaling needed',
  'not-assessed': 'not assessed',
}

/** Text that ends a sentence, so another can follow it. */
const sentence = (text: string) => (/[.!?]$/.test(text.trim()) ? text.trim() : `${text.trim()}.`)

const isPath = (v: unknown): v is ScalingPath => typeof v === 'string' && (PATH_ORDER as readonly string[]).includes(v)

/** A finding's scaling assessment, when it carries a well-formed one. */
export function assessmentOf(f: Finding): ScalingAssessment | undefined {
  const s = f.evidence?.scaling as Partial<ScalingAssessment> | undefined
  if (!s || typeof s !== 'object' || !isPath(s.path) || typeof s.warranted !== 'boolean') return undefined
  return {
    path: s.path,
    warranted: s.warranted,
    share: typeof s.share === 'number' && Number.isFinite(s.share) ? s.share : null,
    decidedBy: typeof s.decidedBy === 'string' ? s.decidedBy : '',
    wouldChange: typeof s.wouldChange === 'string' ? s.wouldChange : '',
  }
}

const byPath = (a: PathVerdict['considered'][number], b: PathVerdict['considered'][number]) =>
  PATH_ORDER.indexOf(a.path) - PATH_ORDER.indexOf(b.path) || Number(b.warranted) - Number(a.warranted) || (b.share ?? -1) - (a.share ?? -1)

/**
 * The verdict of one audited stack. `assessedKinds` are the target kinds whose workloads the scaling advisors weigh
 * (PostgreSQL today); a stack with none of them is not assessed.
 */
export function pathVerdict(findings: Finding[], targets: TargetInfo[], gaps: {skipped: SkippedEntry[]; notRead: NotReadEntry[]}, assessedKinds: readonly string[] = ['postgres']): PathVerdict {
  // An advisor may put its one assessment on each of its findings (a candidate, a declined statement): one per
  // target, rule and path, the one with the largest share.
  const seen = new Map<string, PathVerdict['considered'][number]>()
  for (const f of findings) {
    const a = assessmentOf(f)
    if (!a) continue
    const key = `${f.target}\u0000${f.rule}\u0000${a.path}`
    const kept = seen.get(key)
    if (!kept || Number(a.warranted) > Number(kept.warranted) || (a.warranted === kept.warranted && (a.share ?? -1) > (kept.share ?? -1))) {
      seen.set(key, {...a, target: f.target, rule: f.rule, finding: f.id})
    }
  }
  const considered = [...seen.values()].sort(byPath)
  const chosen = considered.find((c) => c.warranted)
  if (chosen) {
    const later = considered.filter((c) => c.warranted && c !== chosen && c.path !== chosen.path)
    return {
      path: chosen.path,
      headline: PATH_HEADLINE[chosen.path],
      target: chosen.target,
      share: chosen.share,
      decidedBy: chosen.decidedBy,
      wouldChange: sentence(chosen.wouldChange) + (later.length > 0 ? ` Also called for, after it: ${[...new Set(later.map((c) => PATH_HEADLINE[c.path]))].join('; ')}.` : ''),
      considered,
    }
  }
  // A standby serves its primary's workload: the primary is where the paths are weighed.
  const databases = targets.filter((t) => assessedKinds.includes(t.kind) && t.facts?.role !== 'standby')
  const read = databases.filter((t) => t.status === 'ok')
  const assessed = new Set(considered.map((c) => c.target))
  const unassessed = databases.filter((t) => !assessed.has(t.name))
  if (databases.length === 0 || unassessed.length > 0) {
    const why = databases.length === 0
      ? `no ${assessedKinds.join(' or ')} target was audited: the scaling paths are weighed from a database's workload`
      : unassessed.map((t) => `${t.name}: ${whyNotAssessed(t, read.includes(t), gaps)}`).join('; ')
    return {path: 'not-assessed', headline: PATH_HEADLINE['not-assessed'], target: unassessed[0]?.name ?? null, share: null, decidedBy: why,
      wouldChange: databases.length === 0 ? 'audit the PostgreSQL database behind the stack (--pg URL)' : 'fix what kept the workload from being read (the report lists it under Not read), then audit again',
      considered}
  }
  const top = considered.reduce<typeof considered[number] | undefined>((best, c) => (c.share ?? -1) > (best?.share ?? -1) ? c : best, undefined)
  return {
    path: 'healthy', headline: PATH_HEADLINE.healthy, target: null, share: null,
    decidedBy: `no scaling path is called for: ${considered.map((c) => `${c.path}: ${c.decidedBy}`).join('; ')}`,
    wouldChange: top?.wouldChange ?? 'a workload that outgrows the server',
    considered,
  }
}

function whyNotAssessed(target: TargetInfo, read: boolean, gaps: {skipped: SkippedEntry[]; notRead: NotReadEntry[]}): string {
  if (!read) return `not read (${target.error ?? target.status})`
  const gap = [...gaps.notRead, ...gaps.skipped].find((g) => g.target === target.name)
  return gap ? `its workload was not weighed (${gap.probe}: ${gap.reason})` : 'its workload was not weighed (no statement statistics in the window)'
}
