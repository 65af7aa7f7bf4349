import {readFileSync, writeFileSync} from 'node:fs'
import {ConfigError} from './errors.js'
import {DocumentSchemas, documentKind} from './document-schema.js'
import {defaultSecretRegistry, type SecretRegistry} from './redact.js'
import type {Report, Snapshot} from './types.js'

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
  return kind === 'snapshot' ? {kind, snapshot: doc as Snapshot} : {kind, report: doc as Report}
}

/** Writes text to a file or stdout, scrubbed of every secret the registry knows. */
export function writeOutput(text: string, file?: string, secrets: SecretRegistry = defaultSecretRegistry): void {
  const clean = secrets.scrub(text)
  if (file) writeFileSync(file, clean)
  else process.stdout.write(clean)
}
