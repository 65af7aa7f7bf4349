/**
 * The apply journal (docs/apply.md): one JSON file per `chokepoint apply --confirm`, written before and after every
 * step so that an interruption at any point leaves a record of what was being done and how to undo it. Writes are
 * atomic (a temporary file in the same directory, fsynced, then renamed over the journal): a reader, or the next
 * run after a crash, sees the previous state or the new one, never half a file. Everything written is scrubbed with
 * the run's secrets. Reading validates the file against schemas/journal.schema.json.
 */
import {closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync} from 'node:fs'
import {basename, dirname, join, resolve} from 'node:path'
import {JOURNAL_SCHEMA_VERSION, type ChangeRecord, type ChangeStatus, type Journal} from './applier.js'
import {DocumentSchemas} from './document-schema.js'
import {ConfigError, errorMessage} from './errors.js'
import type {Secrets} from './secrets.js'
import {toolVersion} from './version.js'

/** Default journal names: `chokepoint-apply-<UTC timestamp>.json` in the current directory. */
export const JOURNAL_PREFIX = 'chokepoint-apply-'

/** A change left in one of these by an earlier run may have changed the target half-way: it is recovered first. */
export const UNFINISHED_STATUSES: readonly ChangeStatus[] = ['applying', 'interrupted']

export function defaultJournalPath(now: Date = new Date(), dir = process.cwd()): string {
  return join(dir, `${JOURNAL_PREFIX}${now.toISOString().replace(/[:.]/g, '-')}.json`)
}

export function newJournal(report: Journal['report'], now: Date = new Date()): Journal {
  return {schemaVersion: JOURNAL_SCHEMA_VERSION, tool: {name: 'chokepoint', version: toolVersion()}, createdAt: now.toISOString(), report, changes: []}
}

let schemas: DocumentSchemas | undefined

/** Reads and validates a journal; one line naming the file and the first bad field when it is not one. */
export function readJournal(file: string): Journal {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw new ConfigError(`cannot read the journal ${file}: check the path (apply --confirm prints the journal it writes)`)
  }
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (error) {
    throw new ConfigError(`${file} is not JSON (${errorMessage(error)}): pass a journal written by chokepoint apply --confirm`)
  }
  schemas ??= new DocumentSchemas()
  schemas.check('journal', doc, file)
  return doc as Journal
}

/**
 * Writes the journal atomically: temp file, fsync, rename. Scrubbed of every secret of the run (a statement or an
 * error message may carry one).
 */
export function writeJournal(file: string, journal: Journal, secrets: Secrets): void {
  const path = resolve(file)
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  const text = `${secrets.scrub(JSON.stringify(journal, null, 2))}\n`
  const fd = openSync(temp, 'w', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  try {
    renameSync(temp, path)
  } catch (error) {
    rmSync(temp, {force: true})
    throw error
  }
}

export interface UnfinishedChange {
  file: string
  journal: Journal
  change: ChangeRecord
}

/**
 * Changes an earlier run left unfinished on these targets: in the journals of this directory named like the default
 * ones, and in `also` (an explicit --journal FILE). A file that is not a valid journal is skipped with a log line.
 */
export function findUnfinished(dir: string, targets: string[], also: string[] = [], log: (line: string) => void = () => {}): UnfinishedChange[] {
  let names: string[] = []
  try {
    names = readdirSync(dir).filter((n) => n.startsWith(JOURNAL_PREFIX) && n.endsWith('.json')).map((n) => join(dir, n))
  } catch {}
  const files = [...new Set([...names, ...also.filter((f) => existsSync(f))].map((f) => resolve(f)))].sort()
  const out: UnfinishedChange[] = []
  for (const file of files) {
    let journal: Journal
    try {
      journal = readJournal(file)
    } catch (error) {
      log(`skipping ${file}: ${errorMessage(error)}`)
      continue
    }
    for (const change of journal.changes) {
      if (UNFINISHED_STATUSES.includes(change.status) && targets.includes(change.target)) out.push({file, journal, change})
    }
  }
  return out
}
