/**
 * One `chokepoint apply --confirm` (or `--rollback --confirm`) at a time per target on this machine: a lock file per
 * target endpoint (kind, host, port, database; never the password) in the temporary directory, created exclusively
 * and holding the owner's pid and journal. A second apply on the same target refuses with the owner named; a lock
 * whose pid is gone (a killed run) is taken over. Appliers serialise across machines themselves (the PostgreSQL
 * appliers with an advisory lock); this keeps two local runs from interleaving their journals and recoveries.
 */
import {createHash} from 'node:crypto'
import {closeSync, openSync, readFileSync, rmSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {UsageError} from './errors.js'
import type {TargetSpec} from './types.js'

export interface TargetLock {
  file: string
  /** The journal of a run that died holding this lock: its unfinished changes are recovered first. */
  staleJournal?: string
  release(): void
}

/** What identifies a target's server and database in a URL: scheme, host, port, path (no user, no password). */
export function endpointOf(url: string): string {
  try {
    const u = new URL(url)
    const scheme = u.protocol === 'postgresql:' ? 'postgres:' : u.protocol
    return `${scheme}//${u.hostname.toLowerCase()}:${u.port}${decodeURIComponent(u.pathname).replace(/\/+$/, '')}`
  } catch {
    return url
  }
}

export function lockFileFor(target: TargetSpec, dir = process.env.CHOKEPOINT_LOCK_DIR || tmpdir()): string {
  const hash = createHash('sha256').update(`${target.kind}|${endpointOf(target.url)}`).digest('hex').slice(0, 16)
  return join(dir, `chokepoint-apply-${hash}.lock`)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Without taking it: the journal of a dead run still holding the target's lock (what a dry run shows it would recover). */
export function staleLockJournal(target: TargetSpec, dir?: string): string | undefined {
  try {
    const owner = JSON.parse(readFileSync(lockFileFor(target, dir), 'utf8')) as {pid?: number; journal?: string}
    if (typeof owner.pid === 'number' && !alive(owner.pid) && typeof owner.journal === 'string') return owner.journal
  } catch {}
  return undefined
}

/** Takes the target's lock, or throws a UsageError (exit 2) naming the run that holds it. */
export function lockTarget(target: TargetSpec, journal: string, dir?: string): TargetLock {
  const file = lockFileFor(target, dir)
  let staleJournal: string | undefined
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600)
      writeSync(fd, JSON.stringify({pid: process.pid, target: target.name, journal, since: new Date().toISOString()}))
      closeSync(fd)
      let released = false
      return {file, ...(staleJournal ? {staleJournal} : {}), release: () => {
        if (released) return
        released = true
        rmSync(file, {force: true})
      }}
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      let owner: {pid?: number; journal?: string; since?: string} = {}
      try {
        owner = JSON.parse(readFileSync(file, 'utf8'))
      } catch {}
      if (typeof owner.pid === 'number' && owner.pid !== process.pid && alive(owner.pid)) {
        throw new UsageError(`another chokepoint apply (pid ${owner.pid}, since ${owner.since ?? '?'}, journal ${owner.journal ?? '?'}) is working on target ${target.name}: wait for it to finish`)
      }
      // Its owner is gone: a killed run. Its journal says what it left; the orchestrator recovers it.
      if (typeof owner.journal === 'string') staleJournal = owner.journal
      rmSync(file, {force: true})
    }
  }
  throw new UsageError(`cannot take the apply lock ${file} for target ${target.name}: remove it if no chokepoint apply is running`)
}
