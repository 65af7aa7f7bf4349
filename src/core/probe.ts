import type {Metric, OverheadEntry, ReadingStatus, TargetKind, TargetSpec} from './types.js'

export interface ProbeContext {
  target: TargetSpec
  /** Seconds between baseline() and collect(); 0 means read once and use counters since the last stats reset. */
  windowSeconds: number
  options: Record<string, unknown>
  /** Progress and verbose diagnostics, to stderr. */
  log: (message: string) => void
}

export interface ProbeOutput {
  data?: unknown
  metrics: Metric[]
  /** A probe may report a partial failure itself (e.g. one of several queues unreadable). */
  status?: ReadingStatus
  reason?: string
}

/**
 * A probe reads one aspect of one target, read-only and bounded. Probes with cumulative counters implement
 * baseline(); the capture waits the window once for all probes of a target, then calls collect() with it.
 * Throw ProbeSkip for "does not apply here" (missing extension, privilege, version); any other error marks
 * the reading as an error and the audit as incomplete.
 */
export interface Probe<Conn = unknown> {
  id: string
  kind: TargetKind
  description: string
  baseline?(conn: Conn, ctx: ProbeContext): Promise<unknown>
  collect(conn: Conn, ctx: ProbeContext, baseline: unknown): Promise<ProbeOutput>
}

/** Records every query or command sent to a target, by probe, for the overhead report and round-trip counts. */
export class CommandLog {
  currentProbe = 'connect'
  roundTrips = 0
  private readonly counts = new Map<string, {probe: string; text: string; count: number}>()

  record(text: string, roundTrips = 1): void {
    this.roundTrips += roundTrips
    const short = text.replace(/\s+/g, ' ').trim().slice(0, 160)
    const key = `${this.currentProbe}\u0000${short}`
    const entry = this.counts.get(key)
    if (entry) entry.count += 1
    else this.counts.set(key, {probe: this.currentProbe, text: short, count: 1})
  }

  toEntry(target: string): OverheadEntry {
    return {target, roundTrips: this.roundTrips, commands: [...this.counts.values()]}
  }
}

/** Opens and closes a connection of one kind; the connection object is what that kind's probes receive. */
export interface Driver<Conn = unknown> {
  kind: TargetKind
  connect(target: TargetSpec, log: CommandLog): Promise<{conn: Conn; facts: Record<string, unknown>}>
  close(conn: Conn): Promise<void>
}
