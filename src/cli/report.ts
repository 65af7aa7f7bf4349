import {analyseSnapshot, buildReport} from '../core/audit.js'
import {readSavedDocument, writeOutput} from '../core/snapshot-io.js'
import type {FailOn, Report} from '../core/types.js'
import {renderReport} from '../reporters/index.js'
import {chooseFormat, resolveRun, useColor, type CommonFlags} from './options.js'

export async function renderSaved(file: string, flags: CommonFlags & {output?: string; verbose?: boolean}): Promise<Report> {
  const doc = readSavedDocument(file)
  const run = await resolveRun(flags, {needTargets: false})
  let report: Report
  if (doc.kind === 'snapshot') {
    report = await analyseSnapshot(doc.snapshot, {config: run.config, failOn: run.failOn, source: 'snapshot'})
  } else if (flags['fail-on'] && flags['fail-on'] !== doc.report.gate.failOn) {
    // A saved report re-gated at another level: same findings, new verdict.
    const snapshotLike = {targets: doc.report.targets, readings: [], windowSeconds: doc.report.windowSeconds, overhead: doc.report.overhead} as never
    report = {...buildReport(snapshotLike, doc.report.findings, doc.report.skipped, flags['fail-on'] as FailOn, doc.report.source), generatedAt: doc.report.generatedAt}
  } else {
    report = doc.report
  }
  writeOutput(await renderReport(report, chooseFormat(flags), {color: useColor(flags, Boolean(flags.output)), verbose: Boolean(flags.verbose)}), flags.output)
  process.exitCode = report.gate.exitCode
  return report
}
