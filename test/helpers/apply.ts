/**
 * A hand-built ApplyContext for calling an applier's methods directly (the orchestrator is the only caller in the
 * product): what it logged, the progress it reported and the journal records it made are kept for assertions.
 */
import type {ApplyContext, ApplyOptions, ChangeRecord} from '../../src/core/applier.js'
import {SecretRegistry} from '../../src/core/redact.js'
import type {Finding, TargetSpec} from '../../src/core/types.js'

export interface TestApplyContext extends ApplyContext {
  logs: string[]
  progressed: Array<{phase: string; done?: number; total?: number; unit?: string}>
  records: Array<Partial<ChangeRecord>>
  record: (progress: Partial<ChangeRecord>) => Promise<void>
  abort: () => void
}

export function applyContext(target: Partial<TargetSpec> & {url: string}, opts: {options?: Partial<ApplyOptions>; finding?: Finding} = {}): TestApplyContext {
  const controller = new AbortController()
  const logs: string[] = []
  const progressed: TestApplyContext['progressed'] = []
  const records: TestApplyContext['records'] = []
  return {
    target: {name: 'pg', kind: 'postgres', options: {}, ...target} as TargetSpec,
    finding: opts.finding,
    options: {maxLockWaitMs: 30_000, verifyWindowMs: 0, keepFailed: false, ...opts.options},
    log: (line) => logs.push(line),
    progress: (update) => progressed.push(update),
    signal: controller.signal,
    secrets: new SecretRegistry(),
    logs,
    progressed,
    records,
    record: async (progress) => {
      records.push(progress)
    },
    abort: () => controller.abort(),
  }
}

/** A journal entry as the orchestrator would write it from what the applier recorded and returned. */
export function changeRecord(ctx: TestApplyContext, plan: {remedyId: string; remedyKind: ChangeRecord['remedyKind']; applier: string; summary: string; statements: string[]; rollback: string[]; details: Record<string, unknown>}, undo?: unknown): ChangeRecord {
  const recorded = Object.assign({}, ...ctx.records) as Partial<ChangeRecord>
  return {
    changeId: 'change-1', remedyId: plan.remedyId, remedyKind: plan.remedyKind, applier: plan.applier, target: ctx.target.name, status: 'applying',
    summary: plan.summary, statements: plan.statements, rollbackStatements: plan.rollback, details: plan.details, ...recorded, ...(undo === undefined ? {} : {undo}),
  }
}
