/**
 * What chokepoint did, as events: an audit, each probe, each command or query sent to a target (with its duration
 * and error). The overhead report of verbose mode is one consumer (OverheadCollector); the watch mode's metrics
 * and OpenTelemetry traces are others. Every method is optional and must not throw.
 */
import type {OverheadEntry, ReadingStatus} from './types.js'

export interface CommandEvent {
  target: string
  /** The probe or advisor on whose behalf the command was sent ('connect' while connecting). */
  probe: string
  /** The command or query, whitespace-folded and cut to 160 characters. */
  text: string
  roundTrips: number
  durationMs?: number
  error?: string
}

export interface Instrumentation {
  auditStart?(event: {targets: string[]}): void
  auditEnd?(event: {durationMs: number; error?: string}): void
  probeStart?(event: {target: string; probe: string}): void
  probeEnd?(event: {target: string; probe: string; durationMs: number; status: ReadingStatus; error?: string}): void
  command?(event: CommandEvent): void
}

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
  return {auditStart: fan('auditStart'), auditEnd: fan('auditEnd'), probeStart: fan('probeStart'), probeEnd: fan('probeEnd'), command: fan('command')}
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
