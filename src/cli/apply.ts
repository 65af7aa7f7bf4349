import type {ApplyOptions, ChangeRecord} from '../core/applier.js'
import {checkReportAge, DEFAULT_MAX_LOCK_WAIT_MS, DEFAULT_MAX_REPORT_AGE_MS, resolveReportTargets, runApply, runRollback, selectRemedies, type ApplyResult} from '../core/apply.js'
import {UsageError} from '../core/errors.js'
import {defaultJournalPath, readJournal} from '../core/journal.js'
import type {SecretRegistry} from '../core/redact.js'
import {checkOutputFile, readSavedDocument} from '../core/snapshot-io.js'
import type {Report} from '../core/types.js'
import {parseDurationSeconds} from '../core/units.js'
import type {CliContext} from './context.js'
import {resolveRun} from './options.js'
import {evaluate, type AuditRunFlags} from './run.js'

export interface ApplyFlags extends AuditRunFlags {
  from?: string
  only?: string[]
  kind?: string[]
  confirm?: boolean
  journal?: string
  'max-lock-wait'?: string
  'verify-window'?: string
  'max-report-age'?: string
  'keep-failed'?: boolean
  rollback?: string
}

function durationMs(flag: string, text: string | undefined, fallbackMs: number, maxSeconds = 7 * 86_400): number {
  if (text === undefined) return fallbackMs
  const seconds = parseDurationSeconds(text)
  if (seconds === null || seconds > maxSeconds) throw new UsageError(`--${flag}: expected a duration like 30s, 5m or 24h, got "${text}"`)
  return Math.round(seconds * 1000)
}

/**
 * Progress of a long step on stderr: a bar redrawn in place on a terminal, else a line when the phase changes and
 * at most every 5 s. Log lines end a bar's line first.
 */
export function progressRenderer(stream: NodeJS.WriteStream = process.stderr, scrub: (t: string) => string = (t) => t) {
  const tty = Boolean(stream.isTTY)
  let barShown = false
  let lastPhase = ''
  let lastAt = 0
  const endBar = () => {
    if (barShown) stream.write('\n')
    barShown = false
  }
  return {
    log(line: string) {
      endBar()
      stream.write(`${scrub(line)}\n`)
    },
    progress({phase, done, total, unit}: {phase: string; done?: number; total?: number; unit?: string}) {
      const pct = done !== undefined && total ? Math.min(100, Math.round((done / total) * 100)) : undefined
      const counts = done === undefined ? '' : ` ${done}${total ? `/${total}` : ''}${unit ? ` ${unit}` : ''}`
      if (tty) {
        const width = 24
        const filled = pct === undefined ? 0 : Math.round((pct / 100) * width)
        const bar = pct === undefined ? '' : ` [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct}%`
        stream.write(`\r\x1b[K${scrub(phase)}${bar}${counts}`)
        barShown = true
        return
      }
      const at = Date.now()
      if (phase === lastPhase && at - lastAt < 5000) return
      lastPhase = phase
      lastAt = at
      stream.write(`progress: ${scrub(phase)}${counts}${pct === undefined ? '' : ` (${pct}%)`}\n`)
    },
    end: endBar,
  }
}

/** SIGINT and SIGTERM abort the run; the orchestrator waits for the applier to clean up. A second one exits at once. */
function abortOnSignals(log: (line: string) => void): {signal: AbortSignal; dispose(): void; code(): number | undefined} {
  const controller = new AbortController()
  let received: NodeJS.Signals | undefined
  const handler = (sig: NodeJS.Signals) => {
    if (received) {
      log(`${sig} again: exiting now; the journal records what was under way`)
      process.exit(sig === 'SIGINT' ? 130 : 143)
    }
    received = sig
    log(`${sig}: stopping; waiting for the applier to clean up (again to exit at once)`)
    controller.abort()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
    code: () => (received === 'SIGTERM' ? 143 : received ? 130 : undefined),
  }
}

export async function applyCommand(flags: ApplyFlags, ctx: CliContext): Promise<ApplyResult> {
  const format = flags.json ? 'json' : flags.format ?? 'text'
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format ${format}: apply prints text or json`)
  const secrets = ctx.secrets as SecretRegistry
  const out = progressRenderer(process.stderr, (t) => secrets.scrub(t))
  const options: ApplyOptions = {
    maxLockWaitMs: durationMs('max-lock-wait', flags['max-lock-wait'], DEFAULT_MAX_LOCK_WAIT_MS, 3600),
    // Absent: each applier's own default (docs/apply.md, "--verify-window").
    ...(flags['verify-window'] === undefined ? {} : {verifyWindowMs: durationMs('verify-window', flags['verify-window'], 0, 3600)}),
    keepFailed: Boolean(flags['keep-failed']),
  }
  const kindFlag = (kind: string) => ctx.registry.kind(kind)?.flag
  let result: ApplyResult
  const signals = abortOnSignals(out.log)
  try {
    if (flags.rollback) {
      if (flags.from || flags.kind?.length) throw new UsageError('--rollback takes a journal: --from and --kind do not apply (choose changes with --only CHANGE_ID)')
      const journal = readJournal(flags.rollback)
      const run = await resolveRun(flags, {needTargets: false}, ctx)
      result = await runRollback({registry: ctx.registry, secrets, signal: signals.signal, log: out.log, progress: out.progress, journal, file: flags.rollback,
        only: flags.only, targets: run.targets, confirm: Boolean(flags.confirm), options, kindFlag})
    } else {
      const journalPath = flags.journal ?? defaultJournalPath()
      if (flags.confirm) checkOutputFile(journalPath, '--journal')
      let report: Report
      let source: string
      const maxAge = durationMs('max-report-age', flags['max-report-age'], DEFAULT_MAX_REPORT_AGE_MS, 365 * 86_400)
      if (flags.from) {
        const doc = readSavedDocument(flags.from)
        if (doc.kind !== 'report') throw new UsageError(`${flags.from} is a snapshot: apply takes a report (chokepoint audit --from-snapshot ${flags.from} --json -o report.json)`)
        report = doc.report
        source = flags.from
        checkReportAge(report, maxAge)
      } else {
        out.log('auditing first (pass --from REPORT.json to apply a saved report)')
        report = await evaluate(flags, ctx)
        source = 'live'
      }
      const run = await resolveRun(flags, {needTargets: !flags.from}, ctx)
      const selected = selectRemedies(report, ctx.registry, {only: flags.only, kinds: flags.kind})
      const targets = resolveReportTargets(report.targets, run.targets, selected.map((s) => s.finding.target), secrets, kindFlag)
      // A target the audit could not reach has no remedies: that, not "nothing to apply", is what the user must hear.
      const down = report.targets.filter((t) => t.status === 'error')
      for (const t of down) out.log(`target ${t.name} could not be audited: ${t.error ?? 'no reason recorded'}`)
      if (selected.length === 0) {
        out.log(`no remedy in the report can be applied by a registered applier${flags.kind?.length ? ` (kinds ${flags.kind.join(', ')})` : ''}`
          + (down.length ? `; ${down.length} target(s) were not audited (above)` : ''))
      }
      result = await runApply({registry: ctx.registry, secrets, signal: signals.signal, log: out.log, progress: out.progress, report, source, selected, targets,
        confirm: Boolean(flags.confirm), journal: journalPath, options})
      for (const t of down) {
        if (!result.unreachable.some((u) => u.target === t.name)) result.unreachable.push({target: t.name, reason: `not audited: ${t.error ?? 'no reason recorded'}`})
      }
      if (result.exitCode === 0 && down.length > 0) result.exitCode = 3
    }
  } finally {
    out.end()
    signals.dispose()
  }
  const text = format === 'json' ? `${JSON.stringify(result, null, 2)}\n` : renderResult(result)
  process.stdout.write(secrets.scrub(text))
  if (result.journal) out.log(`journal: ${result.journal}`)
  process.exitCode = result.exitCode === 130 ? (signals.code() ?? 130) : result.exitCode
  return result
}

function renderChange(c: ChangeRecord, i: number, mode: ApplyResult['mode']): string[] {
  const lines = [`[${i + 1}] ${c.changeId} ${c.remedyId} on ${c.target} (applier ${c.applier}): ${c.summary}`]
  const rollback = mode === 'rollback' || mode === 'rollback-dry-run'
  if (!rollback) {
    for (const s of c.statements) lines.push(`    run:  ${s}`)
    for (const s of c.rollbackStatements) lines.push(`    undo: ${s}`)
    if (c.preflight) lines.push(`    preflight: ${c.preflight.ok ? 'ok' : `refused: ${c.preflight.reason}${c.preflight.fix ? ` (fix: ${c.preflight.fix})` : ''}`}`)
    for (const n of c.notes ?? []) lines.push(`    note: ${n}`)
    if (mode === 'apply' || c.status !== 'planned') lines.push(`    status: ${c.status}${c.error ? `: ${c.error}` : ''}`)
    else if (c.error) lines.push(`    error: ${c.error}`)
    if (c.verification) lines.push(`    verify: ${c.verification.ok ? 'ok' : 'failed'}: ${c.verification.detail}`)
  } else {
    for (const s of c.rollbackStatements) lines.push(`    undo: ${s}`)
    lines.push(`    status: ${c.status}`)
  }
  if (c.rollbackResult) lines.push(`    rollback: ${c.rollbackResult.ok ? 'ok' : 'failed'}: ${c.rollbackResult.detail}`)
  return lines
}

export function renderResult(result: ApplyResult): string {
  const head: Record<ApplyResult['mode'], string> = {
    'dry-run': 'Plan (dry run: nothing was changed; rerun with --confirm to apply it)',
    apply: 'Applied',
    'rollback-dry-run': 'Rollback plan (dry run: nothing was changed; rerun with --confirm to roll back)',
    rollback: 'Rolled back',
  }
  const lines = [head[result.mode]]
  for (const r of result.recovered) {
    lines.push(`recover: ${r.changeId} of ${r.journal} on ${r.target} (left ${r.status}${r.result ? `: ${r.result.ok ? 'cleaned up' : 'failed'}: ${r.result.detail}` : `; ${result.mode === 'dry-run' ? 'cleaned up first with --confirm' : ''}`})`)
  }
  if (result.changes.length === 0) lines.push('nothing to do')
  result.changes.forEach((c, i) => lines.push(...renderChange(c, i, result.mode)))
  for (const u of result.unreachable) lines.push(`unreachable: ${u.target}: ${u.reason}`)
  const verdict: Record<number, string> = {0: 'ok', 1: 'a change was refused or failed', 3: 'a target could not be reached', 130: 'interrupted'}
  lines.push(`result: ${verdict[result.exitCode]} (exit ${result.exitCode})`)
  return `${lines.join('\n')}\n`
}
