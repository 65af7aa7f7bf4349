import {accessSync, constants, readFileSync, statSync, writeFileSync} from 'node:fs'
import {dirname, resolve} from 'node:path'
import {ConfigError, UsageError} from './errors.js'
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
  return kind === 'snapshot' ? {kind, snapshot: doc as Snapshot} : {kind, report: upgradeReport(doc as Report | ReportV2 | ReportV1)}
}

/** A version-1 report as `chokepoint report` may still be given one: no checks or rules, remedies without ids. */
type ReportV1 = Omit<Report, 'schemaVersion' | 'checks' | 'checksOmitted' | 'rules' | 'diagnosis'> & {schemaVersion: 1}
/** A version-2 report: everything of version 3 but the diagnosis (and no causeId on its findings). */
type ReportV2 = Omit<Report, 'schemaVersion' | 'diagnosis'> & {schemaVersion: 2}

/**
 * Reads a version-1 or version-2 report as version 3. Version 1 never recorded checks and rules (they are empty)
 * and gave remedies no ids (they get them). Neither version recorded the rules' `explains`, so the diagnosis is left
 * empty and no finding gets a causeId: it is not guessed from today's rules. Analyse the snapshot again for one.
 */
export function upgradeReport(report: Report | ReportV2 | ReportV1): Report {
  if (report.schemaVersion === REPORT_SCHEMA_VERSION) return report
  if (report.schemaVersion === 2) return {...report, schemaVersion: REPORT_SCHEMA_VERSION, diagnosis: []}
  return {
    ...report,
    schemaVersion: REPORT_SCHEMA_VERSION,
    findings: report.findings.map((f) => ({...f, remedies: f.remedies.map((r) => ({...r, id: r.id ?? remedyId(r, f.target), applier: r.applier ?? null}))})),
    diagnosis: [],
    checks: [],
    checksOmitted: [],
    rules: [],
  }
}

/**
 * Fails now, with one line, when `file` could not be written: checked before the audit runs, so a missing directory
 * costs nothing instead of failing after the whole audit (it ended as an "internal error" with ENOENT).
 */
export function checkOutputFile(file: string | undefined, flag = '--output'): void {
  if (file === undefined) return
  if (file.trim() === '') throw new UsageError(`${flag}: expected a file name`)
  const path = resolve(file)
  const dir = dirname(path)
  let target: ReturnType<typeof statSync>
  let parent: ReturnType<typeof statSync>
  try {
    target = statSync(path, {throwIfNoEntry: false})
    parent = statSync(dir, {throwIfNoEntry: false})
  } catch (error) {
    // ENOTDIR: a part of the path is a file.
    throw new UsageError(`${flag} ${file}: cannot write there (${(error as NodeJS.ErrnoException).code ?? 'not a path'})`)
  }
  if (target?.isDirectory()) throw new UsageError(`${flag} ${file}: is a directory: name a file in it`)
  if (!parent) throw new UsageError(`${flag} ${file}: the directory ${dir} does not exist: create it first`)
  if (!parent.isDirectory()) throw new UsageError(`${flag} ${file}: ${dir} is not a directory`)
  try {
    accessSync(target ? path : dir, constants.W_OK)
  } catch {
    throw new UsageError(`${flag} ${file}: not writable (${target ? 'the file' : `the directory ${dir}`} is not writable for this user)`)
  }
}

/** Writes text to a file or stdout, scrubbed of every secret of this run. */
export function writeOutput(text: string, file: string | undefined, secrets: Secrets, flag = '--output'): void {
  const clean = secrets.scrub(text)
  if (!file) {
    process.stdout.write(clean)
    return
  }
  try {
    writeFileSync(file, clean)
  } catch (error) {
    // Checked before the audit (checkOutputFile), so this is the disk filling up or the path changing meanwhile.
    throw new UsageError(`${flag} ${file}: cannot write (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
}
