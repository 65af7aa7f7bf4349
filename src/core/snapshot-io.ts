import {readFileSync, writeFileSync} from 'node:fs'
import {ConfigError} from './errors.js'
import type {Secrets} from './secrets.js'
import {SNAPSHOT_SCHEMA_VERSION, type Report, type Snapshot} from './types.js'

export type SavedDocument = {kind: 'snapshot'; snapshot: Snapshot} | {kind: 'report'; report: Report}

/** Reads a file written by `capture` (a Snapshot) or by `audit --format json` (a Report). */
export function readSavedDocument(file: string): SavedDocument {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw new ConfigError(`cannot read ${file}: check the path (write one with \`chokepoint capture -o ${file}\`)`)
  }
  let doc: Record<string, unknown>
  try {
    doc = JSON.parse(text) as Record<string, unknown>
  } catch (error) {
    throw new ConfigError(`${file} is not JSON (${(error as Error).message}): pass a file written by \`chokepoint capture\` or \`audit --format json\``)
  }
  if (doc?.schemaVersion !== SNAPSHOT_SCHEMA_VERSION) {
    throw new ConfigError(`${file} has schemaVersion ${JSON.stringify(doc?.schemaVersion)}; this chokepoint reads version ${SNAPSHOT_SCHEMA_VERSION}`)
  }
  if (Array.isArray(doc.readings) && Array.isArray(doc.targets)) return {kind: 'snapshot', snapshot: doc as unknown as Snapshot}
  if (Array.isArray(doc.findings) && doc.gate) return {kind: 'report', report: doc as unknown as Report}
  throw new ConfigError(`${file} is neither a snapshot (readings) nor a report (findings)`)
}

/** Writes text to a file or stdout, scrubbed of every secret of this run. */
export function writeOutput(text: string, file: string | undefined, secrets: Secrets): void {
  const clean = secrets.scrub(text)
  if (file) writeFileSync(file, clean)
  else process.stdout.write(clean)
}
