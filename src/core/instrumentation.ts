/**
 * What chokepoint did, as events: an audit, each connect, baseline, probe and advisor, each command or query sent
 * to a target (with its duration and error). The overhead report of verbose mode is one consumer
 * (OverheadCollector); the watch mode's metrics and OpenTelemetry traces (src/telemetry) are others. Every method
 * is optional and must not throw. Events arrive in order per target (a target's probes run one at a time), so a
 * consumer can nest a target's commands under the probe or advisor named in the event without async context.
 */
import type {OverheadEntry, ReadingStatus} from './types.js'

export interface CommandEvent {
  target: string
  /** The probe or advisor on whose behalf the command was sent ('connect' while connecting). */
  probe: string
  /** The command or query, whitespace-folded and cut to 160 characters. */
  text: string
  /**
   * The whole command or query as the driver sent it (not folded: folding would end a SQL line comment's line
   * nowhere), literals included: a consumer that exports it must normalise it first (src/telemetry/sql.ts).
   */
  query?: string
  roundTrips: number
  durationMs?: number
  error?: string
  /** What kind of failure: the error's code (a SQLSTATE, ECONNRESET, a Redis error prefix) or class name. */
  errorType?: string
}

/** A target as events name it: never its raw URL (the URL is redacted, for its host, port and database). */
export interface TargetEvent {
  target: string
  kind: string
  /** The target's URL with every credential masked (Secrets.redactUrl). */
  url: string
}

export interface Instrumentation {
  auditStart?(event: {targets: string[]}): void
  auditEnd?(event: {durationMs: number; error?: string}): void
  /** Before a driver connects to a target (once per connection: watch keeps its connections across rounds). */
  connectStart?(event: TargetEvent): void
  connectEnd?(event: TargetEvent & {durationMs: number; facts?: Record<string, unknown>; error?: string}): void
  /** A probe's baseline read, before the window (probeStart/probeEnd are its collect, after it). */
  baselineStart?(event: {target: string; probe: string}): void
  baselineEnd?(event: {target: string; probe: string; durationMs: number; error?: string}): void
  probeStart?(event: {target: string; probe: string}): void
  probeEnd?(event: {target: string; probe: string; durationMs: number; status: ReadingStatus; error?: string}): void
  /** An advisor run on one target, or on the whole stack (no target). */
  advisorStart?(event: {target?: string; advisor: string}): void
  advisorEnd?(event: {target?: string; advisor: string; durationMs: number; findings: number; error?: string}): void
  command?(event: CommandEvent): void
}

const EVENTS = ['auditStart', 'auditEnd', 'connectStart', 'connectEnd', 'baselineStart', 'baselineEnd', 'probeStart', 'probeEnd',
  'advisorStart', 'advisorEnd', 'command'] as const satisfies ReadonlyArray<keyof Instrumentation>

/** Sends every event to each instrumentation in turn; one that throws does not stop the others or the audit. */
export function combineInstrumentation(...parts: Array<Instrumentation | undefined>): Instrumentation {
  const present = parts.filter((p): p is Instrumentation => Boolean(p))
  const fan = <K extends keyof Instrumentation>(key: K) => (event: Parameters<NonNullable<Instrumentation[K]>>[0]) => {
    for (const p of present) {
      try {
        (p[key] as ((e: typeof event) => void) | undefined)?.(event)
      } catch {
        // Instrumentation is an observer: its failure must never change what the audit reads or reports.
      }
    }
  }
  const combined: Instrumentation = {}
  for (const key of EVENTS) {
    // Only the events some part listens to: an emitter may skip work (timing, a redacted URL) for the others.
    if (present.some((p) => p[key])) (combined as Record<string, unknown>)[key] = fan(key)
  }
  return combined
}

/** Counts commands per target and probe: the overhead report (round trips and the commands issued). */
export class OverheadCollector implements Instrumentation {
  private readonly targets = new Map<string, {roundTrips: number; commands: Map<string, {probe: string; text: string; count: number}>}>()

  command(event: CommandEvent): void {
    let entry = this.targets.get(event.target)
    if (!entry) {
      entry = {roundTrips: 0, commands: new Map()}
      this.targets.set(event.target, entry)
    }
    entry.roundTrips += event.roundTrips
    const key = `${event.probe}\u0000${event.text}`
    const seen = entry.commands.get(key)
    if (seen) seen.count += 1
    else entry.commands.set(key, {probe: event.probe, text: event.text, count: 1})
  }

  /** Targets in the order given, so the report lists them as the snapshot does. */
  entries(targetOrder: string[]): OverheadEntry[] {
    return targetOrder.map((target) => {
      const entry = this.targets.get(target)
      return {target, roundTrips: entry?.roundTrips ?? 0, commands: [...entry?.commands.values() ?? []]}
    })
  }
}
