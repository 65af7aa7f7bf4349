import type {Remedy, RemedyKind} from './remedies.js'

/**
 * An applier carries out one kind of remedy on a live target: it is given the remedy as the report states it and
 * the target's open connection. `chokepoint apply` calls preflight, then (only with --confirm) apply and verify,
 * and rollback when verification fails or on request. Appliers are registered by plugins; none acts by itself.
 */
export interface Applier<Conn = unknown> {
  id: string
  remedyKinds: RemedyKind[]
  /** Why this remedy cannot be applied here now (a lock, a missing privilege), or undefined when it can. */
  preflight(remedy: Remedy, conn: Conn): Promise<string | undefined>
  apply(remedy: Remedy, conn: Conn): Promise<{undo: unknown}>
  verify(remedy: Remedy, conn: Conn): Promise<{ok: boolean; detail: string}>
  rollback(remedy: Remedy, conn: Conn, undo: unknown): Promise<void>
}
