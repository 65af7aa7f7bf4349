/**
 * The part every queue probe shares: read the states once for the baseline and once at the end of the window,
 * pair them and normalise them into the queue vocabulary (normalise.ts). A framework probe only says how it reads
 * its own layout, and what an empty read means.
 */
import {ProbeSkip} from '../../core/errors.js'
import type {Probe, ProbeContext, ProbeOutput} from '../../core/probe.js'
import type {TargetKind} from '../../core/types.js'
import {normaliseQueues, type QueueState, type QueueSystem} from './normalise.js'

/** One read of a queue system: the queues it found (up to its cap), how many more the cap left out, and why. */
export interface QueueRead {
  states: QueueState[]
  truncated: number
  notes: string[]
}

/**
 * The first `max` of what discovery found (maxQueues bounds the commands a read sends), with a note in `notes`
 * of how many the cap left out, so a reading never looks complete when it is not.
 */
export function capQueues<T>(found: T[], max: number, what: string, notes: string[]): {kept: T[]; truncated: number} {
  const kept = found.slice(0, max)
  const truncated = found.length - kept.length
  if (truncated > 0) notes.push(`${truncated} ${what} beyond maxQueues (${max}) not read`)
  return {kept, truncated}
}

export interface QueueProbeDefinition<Conn> {
  id: string
  kind: TargetKind
  system: QueueSystem
  description: string
  read(conn: Conn, ctx: ProbeContext): Promise<QueueRead>
  /**
   * The skip reason when the read found no queue at all: the framework is not used on this target. Without it an
   * empty read is an ordinary (empty) reading.
   */
  noQueues?(ctx: ProbeContext): string
  /** A failure the read reported without throwing (a configured queue that does not exist): the reading is an error. */
  failure?(read: QueueRead): string | undefined
}

export function defineQueueProbe<Conn>(def: QueueProbeDefinition<Conn>): Probe<Conn> {
  return {
    id: def.id,
    kind: def.kind,
    description: def.description,
    async baseline(conn, ctx) {
      return (await def.read(conn, ctx)).states
    },
    async collect(conn, ctx, baseline): Promise<ProbeOutput> {
      const read = await def.read(conn, ctx)
      if (read.states.length === 0 && def.noQueues) throw new ProbeSkip(def.noQueues(ctx))
      const out = normaliseQueues(def.system, read.states, baseline as QueueState[] | undefined, ctx.windowSeconds, {truncated: read.truncated, notes: read.notes})
      const failure = def.failure?.(read)
      return failure ? {...out, status: 'error', reason: failure} : out
    },
  }
}
