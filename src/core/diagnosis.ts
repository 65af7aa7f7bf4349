/**
 * The diagnosis: which findings are causes, which are their symptoms, and which causes are the chokepoints.
 *
 * A cause rule declares, as data in its YAML, the symptom rules its findings explain and how a cause finding is
 * matched with a symptom finding (`explains: [{rule: database/seq-scan-heavy-table, match: table}]`, match kinds in
 * MATCH_KINDS). This module links each symptom to its best cause (`causeId`), follows the links to the root causes,
 * weighs each root by its measured share of the time of its part of the stack, and keeps the top five as the
 * report's `diagnosis`. It also resolves remedies' `see:` links into remedy ids (`refs`), or drops them, so no
 * remedy points at something that is not in the report. It reads findings and the snapshot's shared metrics only
 * (db.statement.mean_seconds, queue.depth): no concrete probe or advisor. docs/design.md section 5 documents it.
 */
import {SEVERITY_RANK, type DiagnosisEntry, type DiagnosisWeight, type Finding, type Metric, type Snapshot} from './types.js'
import type {FindingLink, MatchKind, RuleDefinition} from './rules.js'
import {parseQualifiedName} from './sql.js'

/** At most this many chokepoints head a report. */
export const MAX_DIAGNOSIS = 5
/** `reads`: the cause's tables must account for at least this share of the symptom's block reads. */
export const READS_SHARE = 0.5

/**
 * A table name as probes and advisors write it, in one form: quote_ident parts joined by dots (`public."Order"`),
 * or a catalog key with the raw parts (`public.orders`). Quoted text is parsed; unquoted text is taken as it is
 * (both forms agree on every name that needs no quotes).
 */
export function tableKey(text: string): string {
  if (!text.includes('"')) return text
  return parseQualifiedName(text)?.join('.') ?? text
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v) => typeof v === 'string' || typeof v === 'number').map(String)
    : typeof value === 'string' || typeof value === 'number' ? [String(value)] : []

function afterPrefix(subject: string, prefixes: string[]): string | undefined {
  const prefix = prefixes.find((p) => subject.startsWith(p))
  return prefix ? subject.slice(prefix.length).trim() : undefined
}

/** Tables a finding names: evidence.table, evidence.tables, a subject "table X", and its index/drop-index/shard-key remedies' table. */
export function tablesOf(f: Finding): Set<string> {
  const out = new Set<string>()
  for (const t of [...strings(f.evidence.table), ...strings(f.evidence.tables)]) out.add(tableKey(t))
  const fromSubject = afterPrefix(f.subject, ['table '])
  if (fromSubject) out.add(tableKey(fromSubject))
  for (const r of f.remedies) {
    if ((r.kind === 'index' || r.kind === 'drop-index' || r.kind === 'shard-key') && typeof r.table === 'string') out.add(tableKey(r.table))
  }
  return out
}

/** Statements (queryids) a finding names: evidence.queryid, evidence.statements (a list), a subject "statement X" or "queryid X", its remedies' statements and queryid. */
export function statementsOf(f: Finding): Set<string> {
  const out = new Set<string>(strings(f.evidence.queryid))
  if (Array.isArray(f.evidence.statements)) for (const s of strings(f.evidence.statements)) out.add(s)
  const fromSubject = afterPrefix(f.subject, ['statement ', 'queryid '])
  if (fromSubject) out.add(fromSubject)
  for (const r of f.remedies) {
    const fields = r as unknown as Record<string, unknown>
    if (Array.isArray(fields.statements)) for (const s of strings(fields.statements)) out.add(s)
    if (r.kind === 'query') for (const s of strings(fields.queryid)) out.add(s)
  }
  return out
}

/** Queues a finding names: evidence.queue (as `system:queue` when evidence.system is given, as queue probes name them), or the subject of a queue-area finding. */
export function queuesOf(f: Finding): Set<string> {
  const out = new Set<string>()
  const queue = f.evidence.queue
  if (typeof queue === 'string' && queue !== '') out.add(typeof f.evidence.system === 'string' ? `${f.evidence.system}:${queue}` : queue)
  if (f.area === 'queue') out.add(f.subject)
  return out
}

/**
 * Server sessions (pids) a finding names: evidence.pid, and evidence.blockedPids (the sessions waiting behind a
 * blocker). pid 0 is no session (a prepared transaction holding a lock).
 */
export function sessionsOf(f: Finding): Set<number> {
  const out = new Set<number>()
  const add = (v: unknown) => { if (typeof v === 'number' && Number.isInteger(v) && v > 0) out.add(v) }
  add(f.evidence.pid)
  if (Array.isArray(f.evidence.blockedPids)) for (const p of f.evidence.blockedPids) add(p)
  return out
}

/** Block reads per table a symptom lists (evidence.readsByTable) and their total (evidence.reads, else their sum). */
function readsOf(f: Finding): {byTable: Map<string, number>; total: number} {
  const raw = f.evidence.readsByTable
  const byTable = new Map<string, number>()
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    for (const [t, n] of Object.entries(raw as Record<string, unknown>)) if (typeof n === 'number' && n > 0) byTable.set(tableKey(t), n)
  }
  const listed = [...byTable.values()].reduce((s, n) => s + n, 0)
  const total = typeof f.evidence.reads === 'number' && f.evidence.reads >= listed ? f.evidence.reads : listed
  return {byTable, total}
}

const overlaps = (a: Set<string>, b: Set<string>) => [...a].some((x) => b.has(x))

/** Whether `cause` explains `symptom` under one match kind (always on the same target). */
export function matches(kind: MatchKind, cause: Finding, symptom: Finding): boolean {
  if (cause.target !== symptom.target || cause.id === symptom.id) return false
  switch (kind) {
    case 'target': return true
    case 'subject': return cause.subject === symptom.subject
    case 'table': return overlaps(tablesOf(cause), tablesOf(symptom))
    case 'statement': return overlaps(statementsOf(cause), statementsOf(symptom))
    case 'queue': return overlaps(queuesOf(cause), queuesOf(symptom))
    case 'session': return [...sessionsOf(cause)].some((p) => sessionsOf(symptom).has(p))
    case 'reads': {
      const {byTable, total} = readsOf(symptom)
      if (total <= 0) return false
      const tables = tablesOf(cause)
      const mine = [...byTable].filter(([t]) => tables.has(t)).reduce((s, [, n]) => s + n, 0)
      return mine / total >= READS_SHARE
    }
  }
}

/** A match on a named thing says more than one on the target alone: it wins when both apply. */
const SPECIFICITY: Record<MatchKind, number> = {target: 0, subject: 2, table: 2, statement: 2, queue: 2, reads: 1, session: 2}

/** The snapshot's shared metrics a weight is measured from, by name. */
function metricsNamed(snapshot: Snapshot | undefined, name: string): Array<{target: string; metric: Metric}> {
  const out: Array<{target: string; metric: Metric}> = []
  for (const r of snapshot?.readings ?? []) for (const m of r.metrics) if (m.name === name) out.push({target: r.target, metric: m})
  return out
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

function givenWeight(f: Finding): DiagnosisWeight | undefined {
  const w = f.evidence.diagnosisWeight as Partial<DiagnosisWeight> | undefined
  if (!w || typeof w !== 'object' || typeof w.measuredBy !== 'string') return undefined
  const basis = w.basis === 'database-time' || w.basis === 'queue-wait' ? w.basis : 'unmeasured'
  const value = num(w.value) ?? null
  const total = num(w.total) ?? null
  return {basis: value === null || total === null ? 'unmeasured' : basis, value, total, unit: typeof w.unit === 'string' ? w.unit : null, measuredBy: w.measuredBy}
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits

/**
 * What a root cause weighs, measured in its part of the stack:
 * - its own measure, when the finding carries evidence.diagnosisWeight (an advisor that measured the cost itself);
 * - database time: the pg_stat_statements time of the statements the cause names (else those its symptoms name), over
 *   the database's statement time (db.statement.mean_seconds: evidence totalMs and share);
 * - queue wait: the jobs waiting in the queues it (else its symptoms) names over all jobs waiting in the stack's queues (queue.depth):
 *   each waiting job accrues one second of wait per second (Little's law), so depth is the rate queue wait grows at.
 */
export function weigh(cause: Finding, explained: Finding[], snapshot: Snapshot | undefined): DiagnosisWeight {
  const given = givenWeight(cause)
  if (given) return given
  // What the cause itself names, else what its symptoms name: a summary symptom (the workload's index set names
  // every statement) must not lend its statements to the one cause it sits under.
  const named = (of: (f: Finding) => Set<string>) => {
    const own = of(cause)
    return own.size > 0 ? own : new Set(explained.filter((f) => f.target === cause.target).flatMap((f) => [...of(f)]))
  }
  const statements = named(statementsOf)
  if (statements.size > 0) {
    const rows = metricsNamed(snapshot, 'db.statement.mean_seconds').filter((m) => m.target === cause.target)
    // A saved snapshot's evidence is data: only a string or number queryid names a statement.
    const mine = rows.filter((m) => strings(m.metric.evidence?.queryid).some((q) => statements.has(q)))
    const ref = rows.find((m) => (num(m.metric.evidence?.share) ?? 0) > 0 && (num(m.metric.evidence?.totalMs) ?? 0) > 0)
    if (mine.length > 0 && ref) {
      const value = mine.reduce((s, m) => s + (num(m.metric.evidence?.totalMs) ?? 0), 0)
      const total = Math.max(value, num(ref.metric.evidence?.totalMs)! / num(ref.metric.evidence?.share)!)
      const window = num(ref.metric.evidence?.windowSeconds) ?? 0
      return {basis: 'database-time', value: round(value), total: round(total), unit: 'ms',
        measuredBy: `pg_stat_statements: ${mine.length} statement(s) took ${round(value)} ms of the database's ${round(total)} ms of statement time (${window > 0 ? `over a ${window} s window` : 'since the statistics were reset'})`}
    }
  }
  const queues = named(queuesOf)
  if (queues.size > 0) {
    const depths = metricsNamed(snapshot, 'queue.depth').filter((m) => num(m.metric.value) !== undefined)
    const mine = depths.filter((m) => m.target === cause.target && queues.has(m.metric.subject ?? ''))
    const total = depths.reduce((s, m) => s + (m.metric.value as number), 0)
    if (mine.length > 0 && total > 0) {
      const value = mine.reduce((s, m) => s + (m.metric.value as number), 0)
      return {basis: 'queue-wait', value, total, unit: 'waiting jobs',
        measuredBy: `queue wait grows by one second per second for each waiting job (Little's law): ${value} of the ${total} jobs waiting in the stack's queues`}
    }
  }
  const what = statements.size > 0 ? 'its statements are not among the pg_stat_statements readings'
    : queues.size > 0 ? 'no queue depth was read for its queues' : 'no time measure applies to it'
  return {basis: 'unmeasured', value: null, total: null, unit: null, measuredBy: `not measured: ${what}`}
}

const shareOf = (w: DiagnosisWeight) => (w.value !== null && w.total !== null && w.total > 0 ? Math.min(1, w.value / w.total) : null)

export interface Diagnosis {
  /** The findings, in their order, with causeId where a cause explains them and remedies' `see` resolved. */
  findings: Finding[]
  diagnosis: DiagnosisEntry[]
}

/**
 * Links symptoms to causes and ranks the root causes. `rules` are the run's rules (their `explains` and remedies'
 * `see`); `snapshot` gives the measures (absent: every weight is unmeasured and causes rank by severity).
 */
export function diagnose(input: Finding[], rules: Pick<RuleDefinition, 'id' | 'explains'>[], snapshot?: Snapshot): Diagnosis {
  const findings = input.map((f) => ({...f}))
  const order = new Map(findings.map((f, i) => [f.id, i]))
  const explains = new Map<string, FindingLink[]>()
  for (const r of rules) if (r.explains?.length) explains.set(r.id, r.explains)
  const causes = findings.filter((f) => explains.has(f.rule))
  const byId = new Map(findings.map((f) => [f.id, f]))
  // A cause's own weight (before it is given symptoms) settles ties between causes that explain the same symptom.
  const ownShare = new Map(causes.map((c) => [c.id, shareOf(weigh(c, [], snapshot)) ?? -1]))

  const leadsTo = (from: Finding, to: Finding): boolean => {
    for (let at: Finding | undefined = from, hops = 0; at && hops <= findings.length; at = at.causeId ? byId.get(at.causeId) : undefined, hops++) {
      if (at.id === to.id) return true
    }
    return false
  }
  for (const symptom of findings) {
    const candidates: Array<{cause: Finding; specificity: number}> = []
    for (const cause of causes) {
      for (const link of explains.get(cause.rule)!) {
        if (link.rule === symptom.rule && matches(link.match, cause, symptom)) candidates.push({cause, specificity: SPECIFICITY[link.match]})
      }
    }
    candidates.sort((a, b) => b.specificity - a.specificity || ownShare.get(b.cause.id)! - ownShare.get(a.cause.id)!
      || SEVERITY_RANK[b.cause.severity] - SEVERITY_RANK[a.cause.severity] || order.get(a.cause.id)! - order.get(b.cause.id)!)
    // Never a loop: a cause already explained (directly or not) by this symptom cannot become its cause.
    const chosen = candidates.find((c) => !leadsTo(c.cause, symptom))
    if (chosen) symptom.causeId = chosen.cause.id
  }

  const rootOf = (f: Finding): Finding => {
    let at = f
    for (let hops = 0; at.causeId && hops <= findings.length; hops++) at = byId.get(at.causeId)!
    return at
  }
  const explainedBy = new Map<string, Finding[]>()
  for (const f of findings) {
    if (!f.causeId) continue
    const root = rootOf(f)
    explainedBy.set(root.id, [...(explainedBy.get(root.id) ?? []), f])
  }
  const roots = causes.filter((c) => !c.causeId).map((cause) => {
    const explained = explainedBy.get(cause.id) ?? []
    const weight = weigh(cause, explained, snapshot)
    return {cause, explained, weight, share: shareOf(weight)}
  })
  roots.sort((a, b) => (a.share === null ? 1 : 0) - (b.share === null ? 1 : 0) || (b.share ?? 0) - (a.share ?? 0)
    || SEVERITY_RANK[b.cause.severity] - SEVERITY_RANK[a.cause.severity] || order.get(a.cause.id)! - order.get(b.cause.id)!)
  const diagnosis: DiagnosisEntry[] = roots.slice(0, MAX_DIAGNOSIS).map((r, i) => ({
    id: `diag-${r.cause.id}`,
    rank: i + 1,
    cause: r.cause.id,
    rule: r.cause.rule,
    target: r.cause.target,
    severity: r.cause.severity,
    summary: r.cause.message,
    explains: r.explained.map((f) => f.id),
    share: r.share === null ? null : Math.round(r.share * 10000) / 10000,
    weight: r.weight,
    remedy: r.cause.remedies[0]?.id ?? null,
  }))
  return {findings: resolveSee(findings), diagnosis}
}

/** A remedy's `see:` links become the ids of the remedies of the findings they match, or nothing: never a dangling pointer. */
function resolveSee(findings: Finding[]): Finding[] {
  return findings.map((f) => {
    if (!f.remedies.some((r) => r.see)) return f
    return {
      ...f,
      remedies: f.remedies.map((r) => {
        if (!r.see) return r
        const {see, ...rest} = r
        const own = new Set(f.remedies.map((x) => x.id))
        const refs = new Set(rest.refs ?? [])
        for (const link of see) {
          for (const other of findings) {
            if (other.rule !== link.rule || !matches(link.match, f, other)) continue
            const target = other.remedies[0]
            if (target && !own.has(target.id)) refs.add(target.id)
          }
        }
        return refs.size > 0 ? {...rest, refs: [...refs]} : (({refs: _dropped, ...plain}) => plain)(rest)
      }),
    } as Finding
  })
}
