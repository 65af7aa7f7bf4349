import {analyseSnapshot, buildReport} from '../core/audit.js'
import {readSavedDocument} from '../core/snapshot-io.js'
import type {FailOn, Report} from '../core/types.js'
import type {CliContext} from './context.js'
import {resolveRun, type CommonFlags} from './options.js'
import {checkOutputs, parseOutputs, writeOutputs, type OutputFlags} from './outputs.js'

export async function renderSaved(file: string, flags: CommonFlags & OutputFlags & {verbose?: boolean}, ctx: CliContext): Promise<Report> {
  const outputs = parseOutputs(flags, 'table', ctx.registry.formats())
  checkOutputs(outputs)
  const doc = readSavedDocument(file)
  const run = await resolveRun(flags, {needTargets: false}, ctx)
  let report: Report
  if (doc.kind === 'snapshot') {
    report = await analyseSnapshot(doc.snapshot, {...ctx, config: run.config, failOn: run.failOn, source: 'snapshot'})
  } else if (flags['fail-on'] && flags['fail-on'] !== doc.report.gate.failOn) {
    // A saved report re-gated at another level: same findings and checks, new verdict.
    const saved = doc.report
    report = {...buildReport(saved, saved.findings, saved.skipped, flags['fail-on'] as FailOn, saved.source,
      {checks: saved.checks, omitted: saved.checksOmitted, rules: saved.rules, diagnosis: saved.diagnosis, notRead: saved.notRead}), generatedAt: saved.generatedAt}
  } else {
    report = doc.report
  }
  const snapshot = doc.kind === 'snapshot' ? doc.snapshot : undefined
  await writeOutputs(report, outputs, flags, ctx, {snapshot, configFile: run.configFile})
  process.exitCode = report.gate.exitCode
  return report
}
