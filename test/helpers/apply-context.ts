/**
 * A hand-built ApplyContext for applier tests that call an applier's methods directly (without the orchestrator):
 * it keeps the log lines and progress updates, owns the AbortController, and `recorder()` keeps what the applier
 * hands to `record` the way the journal would (each call merged into one change record).
 */
import type {ApplyContext, ApplyOptions, ChangeRecord} from '../../src/core/applier.js'
import {SecretRegistry} from '../../src/core/redact.js'
import type {Finding, TargetSpec} from '../../src/core/types.js'

export interface TestApplyContext extends ApplyContext {
  lines: string[]
  updates: Array<{phase: string; done?: number; total?: number; unit?: string}>
  controller: AbortController
}

export function applyContext(target: TargetSpec, opts: {finding?: Finding; options?: Partial<ApplyOptions>; onProgress?: (update: {phase: string; done?: number; total?: number}) => void} = {}): TestApplyContext {
  const controller = new AbortController()
  const lines: string[] = []
  const updates: TestApplyContext['updates'] = []
  return {
    target,
    finding: opts.finding,
    options: {maxLockWaitMs: 30_000, verifyWindowMs: 0, keepFailed: false, ...opts.options},
    log: (line) => lines.push(line),
    progress: (update) => {
      updates.push(update)
      opts.onProgress?.(update)
    },
    signal: controller.signal,
    secrets: new SecretRegistry(),
    lines,
    updates,
    controller,
  }
}

/** What the orchestrator's journal would hold for one change: every `record` call merged in order, and how many there were. */
export function recorder(): {record: (progress: Partial<ChangeRecord>) => Promise<void>; change: Partial<ChangeRecord>; calls: number} {
  const state = {
    change: {} as Partial<ChangeRecord>,
    calls: 0,
    record: async (progress: Partial<ChangeRecord>) => {
      state.calls++
      // A deep copy, as a journal written to disk would be: later changes to the applier's objects do not leak in.
      state.change = {...state.change, ...JSON.parse(JSON.stringify(progress))}
    },
  }
  return state
}

/** A journal record for rollback, from a plan and what apply returned or recorded. */
export function changeRecord(fields: Partial<ChangeRecord> & Pick<ChangeRecord, 'remedyId' | 'applier' | 'target'>): ChangeRecord {
  return {changeId: 'change-test', remedyKind: 'ttl', status: 'applied', summary: '', statements: [], rollbackStatements: [], details: {}, ...fields}
}
