/**
 * The orchestrator of `chokepoint apply` (docs/apply.md). It chooses remedies from a report, checks the report still
 * describes the targets configured now, and drives each remedy's applier (from the Registry: this file imports no
 * concrete applier) through the contract of src/core/applier.ts:
 *
 *   dry run:    connect -> plan -> preflight                        (changes nothing; the plan is the output)
 *   --confirm:  recover earlier unfinished entries -> plan -> preflight -> journal "applying" -> apply ->
 *               journal "applied" -> verify -> journal "verified" | rollback, journal "rolled-back" (unless keepFailed)
 *   rollback:   journal entries, newest first -> connect -> rollback -> journal "rolled-back" | "rollback-failed"
 *
 * Exit codes: 0 every change applied and verified (or a clean dry run / rollback); 1 a change was refused, failed or
 * failed its verification (and was rolled back); 2 usage (a UsageError thrown from here); 3 a target could not be
 * reached; 130 interrupted (the signal), once the applier cleaned up and the journal says "interrupted".
 */
import {existsSync} from 'node:fs'
import {dirname, resolve} from 'node:path'
import {ApplyRefusal, TargetMismatch, type Applier, type ApplyContext, type ApplyOptions, type ChangeRecord, type Journal, type RollbackResult} from './applier.js'
import {endpointOf, lockTarget, staleLockJournal, type TargetLock} from './apply-lock.js'
import {errorMessage, UsageError} from './errors.js'
import {findUnfinished, newJournal, writeJournal, type UnfinishedChange} from './journal.js'
import type {SecretRegistry} from './redact.js'
import type {Registry} from './registry.js'
import {REMEDY_KINDS, type Remedy, type RemedyKind} from './remedies.js'
import type {Finding, Report, TargetInfo, TargetSpec} from './types.js'

/** A saved report older than this is refused by default (--max-report-age): the state it describes has moved on. */
export const DEFAULT_MAX_REPORT_AGE_MS = 24 * 3600 * 1000
export const DEFAULT_MAX_LOCK_WAIT_MS = 30_000

export interface SelectedRemedy {
  remedy: Remedy
  finding: Finding
  applier: string
}

export interface Selection {
  only?: string[]
  kinds?: string[]
}

/**
 * The remedies to apply: those named by --only (each must be in the report and have an applier), else those of the
 * --kind kinds, else every remedy an applier registered now can carry out. A remedy shared by several findings is
 * taken once, with its first finding.
 */
export function selectRemedies(report: Report, registry: Registry, {only = [], kinds = []}: Selection): SelectedRemedy[] {
  for (const kind of kinds) {
    if (!(REMEDY_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--kind ${kind}: not a remedy kind (${REMEDY_KINDS.join(', ')})`)
  }
  const kindOf = new Map(report.targets.map((t) => [t.name, t.kind]))
  const byId = new Map<string, {remedy: Remedy; finding: Finding}>()
  for (const finding of report.findings) {
    for (const remedy of finding.remedies) if (!byId.has(remedy.id)) byId.set(remedy.id, {remedy, finding})
  }
  const applierOf = ({remedy, finding}: {remedy: Remedy; finding: Finding}) =>
    registry.applierFor(remedy.kind, {targetKind: kindOf.get(finding.target), rule: finding.rule, remedy})
  const out: SelectedRemedy[] = []
  if (only.length > 0) {
    for (const id of new Set(only)) {
      const hit = byId.get(id)
      if (!hit) throw new UsageError(`remedy ${id} is not in the report (it has ${byId.size} remedies; run chokepoint apply without --only to list those that can be applied)`)
      if (kinds.length > 0 && !kinds.includes(hit.remedy.kind)) throw new UsageError(`remedy ${id} is a ${hit.remedy.kind} remedy, not ${kinds.join(' or ')}`)
      const applier = applierOf(hit)
      if (!applier) throw new UsageError(`remedy ${id} (${hit.remedy.kind} on ${hit.finding.target}) has no applier: it stays advice; carry out its ${hit.remedy.sql ? 'SQL' : 'command'} by hand`)
      out.push({...hit, applier})
    }
    return out
  }
  for (const hit of byId.values()) {
    if (kinds.length > 0 && !kinds.includes(hit.remedy.kind)) continue
    const applier = applierOf(hit)
    if (applier) out.push({...hit, applier})
  }
  return out
}

/** Refuses a report older than maxAgeMs (or dated in the future), with its age and the flag. */
export function checkReportAge(report: Pick<Report, 'generatedAt'>, maxAgeMs: number, now: Date = new Date()): void {
  const at = Date.parse(report.generatedAt)
  if (Number.isNaN(at)) throw new UsageError(`the report has no valid generatedAt (${report.generatedAt}): write a fresh one with chokepoint audit --format json`)
  const age = now.getTime() - at
  if (age > maxAgeMs) {
    throw new UsageError(`the report is ${formatAge(age)} old (generated ${report.generatedAt}), older than --max-report-age ${formatAge(maxAgeMs)}: audit again, or pass a larger --max-report-age`)
  }
  if (age < -5 * 60_000) throw new UsageError(`the report was generated in the future (${report.generatedAt}): check this machine's clock`)
}

function formatAge(ms: number): string {
  const s = ms / 1000
  if (s < 120) return `${Math.round(s)} s`
  if (s < 7200) return `${Math.round(s / 60)} min`
  if (s < 172_800) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86_400)} d`
}

/**
 * The real target (URL with its password, from the config, flags and environment of this run) for each name the
 * report uses. The report's URLs have no password, so they are only compared: same kind, same scheme, host, port
 * and database (endpointOf). A target not configured now, or configured elsewhere, is refused.
 */
export function resolveReportTargets(reportTargets: Array<Pick<TargetInfo, 'name' | 'kind' | 'url'>>, configured: TargetSpec[], names: string[],
  secrets: {redactUrl(url: string): string}, kindFlag: (kind: string) => string | undefined = () => undefined): Map<string, TargetSpec> {
  const out = new Map<string, TargetSpec>()
  for (const name of new Set(names)) {
    const info = reportTargets.find((t) => t.name === name)
    if (!info) throw new UsageError(`target ${name} is not among the report's targets`)
    const spec = configured.find((t) => t.name === name)
    if (!spec) {
      const flag = kindFlag(info.kind)
      throw new UsageError(`target ${name} (${info.kind}, ${info.url} in the report) is not configured now: ${flag ? `pass --${flag} URL, ` : ''}list it in the config file, or set its environment variable`)
    }
    const now = secrets.redactUrl(spec.url)
    if (spec.kind !== info.kind || endpointOf(spec.url) !== endpointOf(info.url)) {
      throw new UsageError(`target ${name} is ${spec.kind} ${now} now, but the report audited ${info.kind} ${info.url}: refusing to apply its remedies elsewhere (audit this target again)`)
    }
    out.set(name, spec)
  }
  return out
}

export interface RunHooks {
  registry: Registry
  secrets: SecretRegistry
  /** Aborted on Ctrl-C: the applier stops and cleans up, the journal says "interrupted", the exit code is 130. */
  signal: AbortSignal
  log(line: string): void
  progress: ApplyContext['progress']
  /** Where locks go (default: the temporary directory). */
  lockDir?: string
}

export interface ApplyRunOptions extends RunHooks {
  report: Report
  /** Where the report came from: a file, or "live". */
  source: string
  selected: SelectedRemedy[]
  /** Each target the selected remedies are on, with its real URL (resolveReportTargets). */
  targets: Map<string, TargetSpec>
  confirm: boolean
  journal: string
  options: ApplyOptions
}

/** Something an earlier run left unfinished, and what was done about it (or, in a dry run, will be). */
export interface Recovery {
  journal: string
  changeId: string
  target: string
  applier: string
  /** The status it was left in (applying, interrupted); `result` says what recovery did. */
  status: string
  result?: RollbackResult
}

export interface ApplyResult {
  mode: 'dry-run' | 'apply' | 'rollback-dry-run' | 'rollback'
  /** The journal written (absent in a dry run: nothing was written). */
  journal?: string
  recovered: Recovery[]
  changes: ChangeRecord[]
  /** Targets that could not be reached, with why. */
  unreachable: Array<{target: string; reason: string}>
  exitCode: 0 | 1 | 3 | 130
}

class Interrupted extends Error {
  constructor() {
    super('interrupted')
    this.name = 'Interrupted'
  }
}

interface OpenSession {
  applier: Applier
  session: unknown
}

/** Applier sessions of one run, opened once per (applier, target) and all closed at the end. */
class Sessions {
  private readonly appliers = new Map<string, Promise<Applier>>()
  private readonly open = new Map<string, Promise<OpenSession>>()

  constructor(private readonly registry: Registry, private readonly context: (target: TargetSpec, finding?: Finding) => ApplyContext) {}

  applier(id: string): Promise<Applier> {
    let a = this.appliers.get(id)
    if (!a) {
      a = this.registry.applier(id)
      this.appliers.set(id, a)
    }
    return a
  }

  get(applierId: string, target: TargetSpec): Promise<OpenSession> {
    const key = `${applierId}\u0000${target.name}`
    let s = this.open.get(key)
    if (!s) {
      s = this.applier(applierId).then(async (applier) => {
        if (!applier.targetKinds.includes(target.kind)) throw new ApplyRefusal(`applier ${applier.id} does not work on ${target.kind} targets (${applier.targetKinds.join(', ')})`)
        try {
          return {applier, session: await applier.connect(this.context(target))}
        } catch (error) {
          // A plugin's mismatch need not be our class: it is a usage error all the same (exit 2).
          if (!(error instanceof TargetMismatch) && (error as Error)?.name === 'TargetMismatch') throw new TargetMismatch(errorMessage(error))
          throw error
        }
      })
      this.open.set(key, s)
    }
    return s
  }

  async closeAll(log: (line: string) => void): Promise<void> {
    for (const s of this.open.values()) {
      // A session that never opened was reported with its change.
      const opened = await s.catch(() => undefined)
      if (!opened) continue
      try {
        await opened.applier.close(opened.session)
      } catch (error) {
        log(`closing the ${opened.applier.id} session: ${errorMessage(error).split('\n')[0]}`)
      }
    }
  }
}

/** An ApplyRefusal, or an error a plugin named so (a plugin need not import chokepoint to refuse). */
function isRefusal(error: unknown): error is Error & {fix?: string} {
  return error instanceof ApplyRefusal || (error instanceof Error && error.name === 'ApplyRefusal')
}

/** A connect failure: a refusal (the target is unsuitable: exit 1) or the target not reached (exit 3). */
function connectFailure(error: unknown): {refused: boolean; reason: string} {
  if (isRefusal(error)) return {refused: true, reason: `refused: ${error.message}${error.fix ? ` (fix: ${error.fix})` : ''}`}
  return {refused: false, reason: `cannot connect: ${errorMessage(error).split('\n')[0]}`}
}

function contextFactory(hooks: RunHooks, options: ApplyOptions, audited: Journal['report']['targets']) {
  return (target: TargetSpec, finding?: Finding): ApplyContext => ({
    target, ...(finding ? {finding} : {}), audited: audited.find((t) => t.name === target.name), options, signal: hooks.signal, secrets: hooks.secrets,
    log: (line) => hooks.log(hooks.secrets.scrub(line)),
    progress: hooks.progress,
  })
}

function now(): string {
  return new Date().toISOString()
}

function oneLine(error: unknown): string {
  return errorMessage(error).replace(/\s+/g, ' ').trim()
}

function journalReport(report: Pick<Report, 'generatedAt' | 'targets'>, source: string): Journal['report'] {
  return {generatedAt: report.generatedAt, source, targets: report.targets.map((t) => ({name: t.name, kind: t.kind, url: t.url, ...(t.facts ? {facts: t.facts} : {})}))}
}

function takeLocks(targets: Iterable<TargetSpec>, journal: string, dir?: string, log: (line: string) => void = () => {}): TargetLock[] {
  const locks: TargetLock[] = []
  try {
    for (const t of targets) {
      const lock = lockTarget(t, journal, dir)
      if (lock.staleJournal) log(`an earlier apply on ${t.name} ended without releasing its lock (journal ${lock.staleJournal})`)
      locks.push(lock)
    }
  } catch (error) {
    for (const l of locks) l.release()
    throw error
  }
  return locks
}

/**
 * Recovers what earlier runs left "applying" or "interrupted" on these targets, with each applier's recover, and
 * records the result in their journals. An entry whose applier has no recover (or is not registered), or whose
 * recovery fails, stops the run: nothing new is done over a change in an unknown state.
 */
async function recoverUnfinished(unfinished: UnfinishedChange[], targets: Map<string, TargetSpec>, sessions: Sessions, hooks: RunHooks,
  context: (target: TargetSpec) => ApplyContext): Promise<Recovery[]> {
  const out: Recovery[] = []
  for (const {file, journal, change} of unfinished) {
    const target = targets.get(change.target)!
    const rollbackHint = `roll it back with chokepoint apply --rollback ${file} --only ${change.changeId} --confirm`
    if (!hooks.registry.applierDefinition(change.applier)) throw new UsageError(`change ${change.changeId} of ${file} was left ${change.status} by applier ${change.applier}, which is not registered now: link its plugin again, then ${rollbackHint}`)
    const {applier, session} = await sessions.get(change.applier, target)
    if (!applier.recover) throw new UsageError(`change ${change.changeId} of ${file} was left ${change.status}, and applier ${applier.id} cannot recover it: ${rollbackHint}`)
    const left = change.status
    hooks.log(`recovering change ${change.changeId} of ${file} (left ${left}): ${change.summary}`)
    let result: RollbackResult
    try {
      result = await applier.recover(change, session, context(target))
    } catch (error) {
      result = {ok: false, detail: oneLine(error), statements: []}
    }
    change.rollbackResult = result
    change.status = result.ok ? 'rolled-back' : 'rollback-failed'
    change.finishedAt = now()
    writeJournal(file, journal, hooks.secrets)
    out.push({journal: file, changeId: change.changeId, target: change.target, applier: change.applier, status: left, result})
    if (!result.ok) throw new UsageError(`recovering change ${change.changeId} of ${file} failed: ${result.detail}; ${rollbackHint} once that is fixed`)
    hooks.log(`recovered change ${change.changeId}: ${result.detail}`)
  }
  return out
}

/** The dry run, or with confirm the whole apply. */
export async function runApply(run: ApplyRunOptions): Promise<ApplyResult> {
  const context = contextFactory(run, run.options, run.report.targets)
  const sessions = new Sessions(run.registry, context)
  const result: ApplyResult = {mode: run.confirm ? 'apply' : 'dry-run', recovered: [], changes: [], unreachable: [], exitCode: 0}
  const journalFile = resolve(run.journal)
  const targetNames = [...run.targets.keys()]
  if (run.confirm && existsSync(journalFile)) throw new UsageError(`--journal ${run.journal}: the file exists; name a new one (journals are never overwritten)`)
  const locks = run.confirm ? takeLocks(run.targets.values(), journalFile, run.lockDir, run.log) : []
  const stale = run.confirm ? locks.flatMap((l) => (l.staleJournal ? [l.staleJournal] : []))
    : [...run.targets.values()].flatMap((t) => staleLockJournal(t, run.lockDir) ?? [])
  const journal = newJournal(journalReport(run.report, run.source))
  let failed = false
  const save = () => {
    if (run.confirm) writeJournal(journalFile, journal, run.secrets)
  }
  try {
    const unfinished = findUnfinished(dirname(journalFile), targetNames, stale, run.log)
    if (run.confirm) {
      result.recovered = await recoverUnfinished(unfinished, run.targets, sessions, run, (t) => context(t))
    } else {
      result.recovered = unfinished.map(({file, change}) => ({journal: file, changeId: change.changeId, target: change.target, applier: change.applier, status: change.status}))
    }
    if (run.confirm) {
      result.journal = journalFile
      save()
    }
    let n = 0
    for (const {remedy, finding, applier: applierId} of run.selected) {
      if (run.signal.aborted) throw new Interrupted()
      const target = run.targets.get(finding.target)!
      const record: ChangeRecord = {changeId: `change-${++n}`, remedyId: remedy.id, remedyKind: remedy.kind, applier: applierId, target: target.name, status: 'planned',
        summary: remedy.summary, statements: [], rollbackStatements: [], details: {}}
      result.changes.push(record)
      journal.changes.push(record)
      if (failed && run.confirm) {
        record.error = 'not attempted: an earlier change failed'
        save()
        continue
      }
      const ctx = context(target, finding)
      let open: OpenSession
      try {
        open = await sessions.get(applierId, target)
      } catch (error) {
        if (error instanceof UsageError) throw error
        const {refused, reason} = connectFailure(error)
        record.status = 'failed'
        record.error = reason
        // A refusal is this change's failure (exit 1); a target not reached is exit 3, and the others go on.
        if (refused) failed = true
        else if (!result.unreachable.some((u) => u.target === target.name)) result.unreachable.push({target: target.name, reason})
        save()
        continue
      }
      const {applier, session} = open
      try {
        const plan = await applier.plan(remedy, session, ctx)
        Object.assign(record, {summary: plan.summary, statements: plan.statements, rollbackStatements: plan.rollback, details: plan.details, notes: [...plan.notes]})
        record.preflight = await applier.preflight(plan, session, ctx)
        if (!record.preflight.ok) {
          record.status = 'failed'
          record.error = `preflight: ${record.preflight.reason}${record.preflight.fix ? ` (fix: ${record.preflight.fix})` : ''}`
          failed = true
          save()
          continue
        }
        record.notes!.push(...record.preflight.notes)
        if (!run.confirm) continue
        if (run.signal.aborted) throw new Interrupted()
        record.status = 'applying'
        record.startedAt = now()
        save()
        run.log(`applying ${record.changeId} (${remedy.id}) on ${target.name}: ${record.summary}`)
        let applied
        try {
          applied = await applier.apply(plan, session, ctx, async (progress) => {
            const {changeId: _id, remedyId: _r, status: _s, ...rest} = progress
            Object.assign(record, rest)
            save()
          })
        } catch (error) {
          record.error = oneLine(error)
          if (run.signal.aborted) {
            record.status = 'interrupted'
            record.finishedAt = now()
            save()
            throw new Interrupted()
          }
          failed = true
          if ((error as Error)?.name === 'ChangeLeftUnfinished') {
            // The target is out of reach: a rollback now would fail too. The next apply recovers it first.
            record.status = 'interrupted'
            record.finishedAt = now()
            save()
            continue
          }
          record.status = 'failed'
          save()
          if (!run.options.keepFailed) await rollBack(record, applier, session, ctx, save)
          continue
        }
        Object.assign(record, {status: 'applied', statements: applied.statements, before: applied.before, undo: applied.undo, notes: [...record.notes!, ...applied.notes]})
        save()
        run.log(`applied ${record.changeId}; verifying`)
        try {
          record.verification = await applier.verify(plan, applied, session, ctx)
        } catch (error) {
          if (run.signal.aborted) {
            record.error = 'interrupted during verification: the change is applied, not verified'
            record.status = 'interrupted'
            record.finishedAt = now()
            save()
            throw new Interrupted()
          }
          record.verification = {ok: false, detail: `verification failed: ${oneLine(error)}`}
        }
        if (record.verification.ok) {
          record.status = 'verified'
          record.finishedAt = now()
          save()
          continue
        }
        failed = true
        record.status = 'failed'
        record.error = `verification: ${record.verification.detail}${run.options.keepFailed ? ' (kept: --keep-failed)' : ''}`
        save()
        if (!run.options.keepFailed) await rollBack(record, applier, session, ctx, save)
      } catch (error) {
        if (error instanceof Interrupted) throw error
        if (run.signal.aborted) {
          if (record.status === 'planned') record.error = 'interrupted before it started'
          else record.status = 'interrupted'
          save()
          throw new Interrupted()
        }
        record.status = 'failed'
        record.error = isRefusal(error) ? `refused: ${error.message}${error.fix ? ` (fix: ${error.fix})` : ''}` : oneLine(error)
        failed = true
        save()
      }
    }
    result.exitCode = failed ? 1 : result.unreachable.length > 0 ? 3 : 0
  } catch (error) {
    if (!(error instanceof Interrupted)) throw error
    for (const record of result.changes) {
      if (record.status === 'planned' && !record.error) record.error = 'not attempted: interrupted'
    }
    save()
    result.exitCode = 130
  } finally {
    await sessions.closeAll(run.log)
    for (const l of locks) l.release()
  }
  return result
}

async function rollBack(record: ChangeRecord, applier: Applier, session: unknown, ctx: ApplyContext, save: () => void): Promise<void> {
  ctx.log(`rolling back ${record.changeId}`)
  try {
    record.rollbackResult = await applier.rollback(record, session, ctx)
  } catch (error) {
    record.rollbackResult = {ok: false, detail: oneLine(error), statements: []}
  }
  record.status = record.rollbackResult.ok ? 'rolled-back' : 'rollback-failed'
  record.finishedAt = now()
  save()
}

/** A change that may have changed its target, and so can be rolled back. */
export function canRollBack(change: ChangeRecord): boolean {
  if (change.status === 'planned' || change.status === 'rolled-back') return false
  return change.status !== 'failed' || change.startedAt !== undefined
}

export interface RollbackRunOptions extends RunHooks {
  journal: Journal
  file: string
  /** Change ids (or remedy ids) to roll back; default every change that can be. */
  only?: string[]
  targets: TargetSpec[]
  confirm: boolean
  options: ApplyOptions
  kindFlag?: (kind: string) => string | undefined
}

/** `apply --rollback JOURNAL`: each chosen change's rollback, newest first; a dry run prints the statements. */
export async function runRollback(run: RollbackRunOptions): Promise<ApplyResult> {
  const {journal} = run
  let chosen: ChangeRecord[]
  if (run.only && run.only.length > 0) {
    chosen = []
    for (const id of new Set(run.only)) {
      const hits = journal.changes.filter((c) => c.changeId === id || c.remedyId === id)
      if (hits.length === 0) throw new UsageError(`change ${id} is not in ${run.file} (its changes: ${journal.changes.map((c) => c.changeId).join(', ') || 'none'})`)
      const open = hits.filter(canRollBack)
      if (open.length === 0) throw new UsageError(`change ${id} of ${run.file} is ${hits[hits.length - 1].status}: nothing to roll back`)
      chosen.push(...open.filter((c) => !chosen.includes(c)))
    }
  } else {
    chosen = journal.changes.filter(canRollBack)
  }
  chosen = [...chosen].sort((a, b) => journal.changes.indexOf(b) - journal.changes.indexOf(a))
  const targets = resolveReportTargets(journal.report.targets, run.targets, chosen.map((c) => c.target), run.secrets, run.kindFlag)
  const context = contextFactory(run, run.options, journal.report.targets)
  const sessions = new Sessions(run.registry, context)
  const result: ApplyResult = {mode: run.confirm ? 'rollback' : 'rollback-dry-run', recovered: [], changes: chosen, unreachable: [], exitCode: 0}
  if (!run.confirm) return result
  result.journal = resolve(run.file)
  const locks = takeLocks(targets.values(), result.journal, run.lockDir, run.log)
  let failed = false
  try {
    for (const change of chosen) {
      if (run.signal.aborted) {
        result.exitCode = 130
        break
      }
      const target = targets.get(change.target)!
      let open: OpenSession
      try {
        open = await sessions.get(change.applier, target)
      } catch (error) {
        if (error instanceof UsageError) throw error
        const {refused, reason} = connectFailure(error)
        if (refused) failed = true
        else result.unreachable.push({target: target.name, reason})
        change.rollbackResult = {ok: false, detail: reason, statements: []}
        writeJournal(result.journal, journal, run.secrets)
        continue
      }
      run.log(`rolling back ${change.changeId} on ${target.name}: ${change.summary}`)
      try {
        change.rollbackResult = await open.applier.rollback(change, open.session, context(target))
      } catch (error) {
        change.rollbackResult = {ok: false, detail: oneLine(error), statements: []}
      }
      change.status = change.rollbackResult.ok ? 'rolled-back' : 'rollback-failed'
      change.finishedAt = now()
      if (!change.rollbackResult.ok) failed = true
      writeJournal(result.journal, journal, run.secrets)
    }
    if (result.exitCode !== 130) result.exitCode = failed ? 1 : result.unreachable.length > 0 ? 3 : 0
  } finally {
    await sessions.closeAll(run.log)
    for (const l of locks) l.release()
  }
  return result
}

export type {RemedyKind}
