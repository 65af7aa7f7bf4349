import {analyseSnapshot, runAudit} from '../core/audit.js'
import {UsageError} from '../core/errors.js'
import {renderReport} from '../core/render.js'
import {checkOutputFile, readSavedDocument, writeOutput} from '../core/snapshot-io.js'
import type {Report, Snapshot} from '../core/types.js'
import type {CliContext} from './context.js'
import {resolveRun, runProgress, useColor, type CommonFlags} from './options.js'

export interface AuditRunFlags extends CommonFlags {
  'from-snapshot'?: string
  output?: string
  verbose?: boolean
  quiet?: boolean
}

/** The evaluation shared by `audit` and `check`: live, or offline from a snapshot with the same rules. */
export async function evaluate(flags: AuditRunFlags, ctx: CliContext): Promise<Report> {
  return (await evaluateWithSnapshot(flags, ctx)).report
}

/** The report, and the snapshot it was made from (reporters may chart its readings). */
export async function evaluateWithSnapshot(flags: AuditRunFlags, ctx: CliContext): Promise<{report: Report; snapshot: Snapshot}> {
  const {log, progress} = runProgress(flags, ctx)
  const {registry, secrets} = ctx
  if (flags['from-snapshot']) {
    const run = await resolveRun(flags, {needTargets: false}, ctx)
    const doc = readSavedDocument(flags['from-snapshot'])
    if (doc.kind !== 'snapshot') {
      throw new UsageError(`${flags['from-snapshot']} is a report, not a snapshot: render it with \`chokepoint report ${flags['from-snapshot']}\``)
    }
    return {report: await analyseSnapshot(doc.snapshot, {registry, secrets, config: run.config, failOn: run.failOn, source: 'snapshot', log, progress}), snapshot: doc.snapshot}
  }
  const run = await resolveRun(flags, {needTargets: true}, ctx)
  return runAudit({registry, secrets, config: run.config, targets: run.targets, windowSeconds: run.windowSeconds, failOn: run.failOn, log, progress})
}

export async function auditAndRender(flags: AuditRunFlags, format: string, ctx: CliContext, regate?: (report: Report) => Promise<Report>): Promise<Report> {
  checkOutputFile(flags.output)
  const evaluated = await evaluateWithSnapshot(flags, ctx)
  const {snapshot} = evaluated
  const report = regate ? await regate(evaluated.report) : evaluated.report
  const text = await renderReport(report, format, {...ctx, snapshot, options: {color: useColor(flags, Boolean(flags.output)), verbose: Boolean(flags.verbose)}})
  writeOutput(text, flags.output, ctx.secrets)
  process.exitCode = report.gate.exitCode
  return report
}
