import {readFileSync, writeFileSync} from 'node:fs'
import {ConfigError} from './errors.js'
import {DocumentSchemas, documentKind} from './document-schema.js'
import type {Secrets} from './secrets.js'
import {remedyId} from './remedies.js'
import {REPORT_SCHEMA_VERSION, type Report, type Snapshot} from './types.js'

export type SavedDocument = {kind: 'snapshot'; snapshot: Snapshot} | {kind: 'report'; report: Report}

let schemas: DocumentSchemas | undefined

/**
 * Reads a file written by `capture` (a Snapshot) or by `audit --format json` (a Report), validated against the
 * schema of its schemaVersion: a hand-edited or truncated file fails here, on one line naming the bad field,
 * rather than as a TypeError deep inside an advisor.
 */
export function readSavedDocument(file: string): SavedDocument {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw new ConfigError(`cannot read ${file}: check the path (write one with \`chokepoint capture -o ${file}\`)`)
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`${file} is not JSON (${(error as Error).message}): pass a file written by \`chokepoint capture\` or \`audit --format json\``)
  }
  const kind = documentKind(doc)
  if (!kind) throw new ConfigError(`${file} is neither a snapshot (readings) nor a report (findings): pass a file written by \`chokepoint capture\` or \`audit --format json\``)
  schemas ??= new DocumentSchemas()
  schemas.check(kind, doc, file)
  return kind === 'snapshot' ? {kind, snapshot: doc as Snapshot} : {kind, report: upgradeReport(doc as Report | ReportV1)}
}

/** A version-1 report as `chokepoint report` may still be given one: no checks or rules, remedies without ids. */
type ReportV1 = Omit<Report, 'schemaVersion' | 'checks' | 'checksOmitted' | 'rules'> & {schemaVersion: 1}

/** Reads a version-1 report as version 2: the checks and rules it never recorded are empty, remedies get their ids. */
export function upgradeReport(report: Report | ReportV1): Report {
  if (report.schemaVersion === REPORT_SCHEMA_VERSION) return report
  return {
    ...report,
    schemaVersion: REPORT_SCHEMA_VERSION,
    findings: report.findings.map((f) => ({...f, remedies: f.remedies.map((r) => ({...r, id: r.id ?? remedyId(r, f.target), applier: r.applier ?? null}))})),
    checks: [],
    checksOmitted: [],
    rules: [],
  }
}

/** Writes text to a file or stdout, scrubbed of every secret of this run. */
export function writeOutput(text: string, file: string | undefined, secrets: Secrets): void {
  const clean = secrets.scrub(text)
  if (file) writeFileSync(file, clean)
  else process.stdout.write(clean)
}
