import type {Remedy, RemedyKind} from './remedies.js'
import type {SecretRegistry} from './redact.js'
import {UsageError} from './errors.js'
import type {Finding, TargetSpec} from './types.js'

/**
 * The applier contract (`chokepoint apply`, docs/apply.md). An applier carries out one kind of remedy on a live
 * target, verifies it and can roll it back. Built-in and third-party appliers register the same way (a plugin's
 * `appliers`), and the orchestrator (src/core/apply.ts) is the only caller:
 *
 *   connect -> plan -> preflight            (dry run stops here: nothing has changed)
 *   --confirm: journal "applying" -> apply -> journal "applied" -> verify -> journal "verified" | rollback, "rolled-back"
 *   apply --rollback JOURNAL: connect -> rollback(change) -> journal "rolled-back"
 *
 * Every call gets the same ApplyContext. An applier opens its own write session in `connect` (never the probes'
 * read-only one) and the orchestrator closes it. What an applier needs to undo a change goes in `ChangeRecord.undo`:
 * plain JSON, written to the journal before the orchestrator reports success, so a later process can roll back.
 */
export interface Applier<Session = unknown> {
  id: string
  /** The remedy kinds it carries out, and the target kinds it works on. */
  remedyKinds: RemedyKind[]
  targetKinds: string[]
  /** Opens a session for applying only (write access); throws an ApplyRefusal when the target is unsuitable. */
  connect(ctx: ApplyContext): Promise<Session>
  close(session: Session): Promise<void>
  /** What it would do, from the remedy and the target's current state; changes nothing. */
  plan(remedy: Remedy, session: Session, ctx: ApplyContext): Promise<ChangePlan>
  /** Whether it is safe to do now (privilege, locks, the object still there, leftovers to clean). Changes nothing. */
  preflight(plan: ChangePlan, session: Session, ctx: ApplyContext): Promise<PreflightResult>
  /**
   * Carries out the plan. `record` persists progress to the journal (call it before a step that changes the target,
   * with the undo known so far, so an interruption leaves a journal entry that says what to clean up).
   */
  apply(plan: ChangePlan, session: Session, ctx: ApplyContext, record: (progress: Partial<ChangeRecord>) => Promise<void>): Promise<AppliedChange>
  /** Checks that the change took effect and did what the remedy predicted. */
  verify(plan: ChangePlan, applied: AppliedChange, session: Session, ctx: ApplyContext): Promise<Verification>
  /** Undoes a change from its journal record (also from another process, after a crash). */
  rollback(change: ChangeRecord, session: Session, ctx: ApplyContext): Promise<RollbackResult>
  /**
   * Cleans what an interrupted earlier run left (a journal entry stuck in "applying"), before anything new is done.
   * Optional: without it the orchestrator refuses to apply over an unfinished entry of this applier.
   */
  recover?(change: ChangeRecord, session: Session, ctx: ApplyContext): Promise<RollbackResult>
}

export interface ApplyOptions {
  /** The longest lock wait a step may take in all, across its retries (--max-lock-wait, default 30 s). */
  maxLockWaitMs: number
  /**
   * How long verification watches the live system (--verify-window; 0: plan checks only). Undefined when the flag was
   * not given: each applier's default (index, drop-index: 60 s when their statements have traffic; ttl: 0).
   */
  verifyWindowMs?: number
  /** Keep a change that failed verification instead of rolling it back (--keep-failed). */
  keepFailed: boolean
}

export interface ApplyContext {
  target: TargetSpec
  /**
   * What the report (or, for --rollback, the journal) recorded about this target when it was audited: its facts
   * (a PostgreSQL server's systemIdentifier, role, version). `connect` compares them with the live target and throws
   * a TargetMismatch when it is another one; absent facts (an older report) are said, not refused.
   */
  audited?: AuditedTarget
  /** The finding the remedy came from (its evidence: statements, subject), when the report has one. */
  finding?: Finding
  options: ApplyOptions
  /** One line of progress for a person (stderr). */
  log(line: string): void
  /** Progress of a long step (an index build): the orchestrator shows a bar on a terminal, periodic lines otherwise. */
  progress(update: {phase: string; done?: number; total?: number; unit?: string}): void
  /** Aborted on Ctrl-C or when the orchestrator gives up: stop, undo the partial step, and throw. */
  signal: AbortSignal
  /** Every secret the applier learns (a password in a URL) is registered, so no output shows it. */
  secrets: SecretRegistry
}

export interface ChangePlan {
  remedyId: string
  remedyKind: RemedyKind
  applier: string
  target: string
  /** One line: what will change, e.g. `create index "orders_customer_id_idx" on "public"."orders"`. */
  summary: string
  /** The exact statements or commands, in order, as they will be sent (paste-safe). */
  statements: string[]
  /** The statements that undo it (may be refined by apply, e.g. the keys really changed). */
  rollback: string[]
  /** Applier-specific facts the later steps need (plain JSON). */
  details: Record<string, unknown>
  /** What a person should know before confirming (an INVALID leftover that will be dropped first, a cap). */
  notes: string[]
}

export type PreflightResult = {ok: true; notes: string[]} | {ok: false; reason: string; fix?: string}

export interface AppliedChange {
  /** The statements really sent. */
  statements: string[]
  /** The state before (an index definition, the keys changed): enough to undo. */
  before: unknown
  undo: unknown
  notes: string[]
}

export interface Verification {
  ok: boolean
  /** One line: what was checked and found. */
  detail: string
  measurements?: Record<string, unknown>
}

export interface RollbackResult {
  ok: boolean
  detail: string
  statements: string[]
}

/** An applier says it will not act here (wrong target kind, a standby, PgBouncer in transaction mode, privilege). */
export class ApplyRefusal extends Error {
  constructor(message: string, readonly fix?: string) {
    super(message)
    this.name = 'ApplyRefusal'
  }
}

/**
 * The live target is not the one the report audited (another cluster behind the same address): a usage error, exit 2,
 * for every change on it. A plugin that does not import chokepoint may throw any error named "TargetMismatch".
 */
export class TargetMismatch extends UsageError {
  constructor(message: string) {
    super(message)
    this.name = 'TargetMismatch'
  }
}

/**
 * An apply cut off before it finished (the connection lost, the server restarting) that could not undo its partial
 * step, because the target cannot be reached. The orchestrator journals the change "interrupted" (not "failed") and
 * does not roll it back now: the next apply hands it to the applier's `recover` first, before anything new. A plugin
 * may throw any error named "ChangeLeftUnfinished".
 */
export class ChangeLeftUnfinished extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ChangeLeftUnfinished'
  }
}

export const CHANGE_STATUSES = ['planned', 'applying', 'applied', 'verified', 'failed', 'rolled-back', 'rollback-failed', 'interrupted'] as const
export type ChangeStatus = (typeof CHANGE_STATUSES)[number]

/** One change in the journal: what, where, when, the statements, the state before, the verification, the undo. */
export interface ChangeRecord {
  changeId: string
  remedyId: string
  remedyKind: RemedyKind
  applier: string
  target: string
  status: ChangeStatus
  summary: string
  startedAt?: string
  finishedAt?: string
  statements: string[]
  rollbackStatements: string[]
  details: Record<string, unknown>
  before?: unknown
  undo?: unknown
  verification?: Verification
  rollbackResult?: RollbackResult
  error?: string
  /** The plan's and the apply's notes (an INVALID leftover dropped first, a cap reached). */
  notes?: string[]
  /** The preflight's result, as the plan printed it. */
  preflight?: PreflightResult
}

export const JOURNAL_SCHEMA_VERSION = 1

/** A target as the report saw it: the URL without its password, and the driver's facts (absent in older journals). */
export interface AuditedTarget {
  name: string
  kind: string
  url: string
  facts?: Record<string, unknown>
}

export interface Journal {
  schemaVersion: typeof JOURNAL_SCHEMA_VERSION
  tool: {name: 'chokepoint'; version: string}
  createdAt: string
  /** The report the changes came from: when it was made and what it audited. */
  report: {generatedAt: string; source: string; targets: AuditedTarget[]}
  changes: ChangeRecord[]
}
