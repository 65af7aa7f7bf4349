import {errorMessage} from './errors.js'
import type {Instrumentation} from './instrumentation.js'
import type {Secrets} from './secrets.js'
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
  /**
   * What baseline() would return if called now: a capture that samples again (watch mode) uses it as the next
   * window's baseline instead of reading the counters a second time.
   */
  nextBaseline?: unknown
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

/**
 * What a driver is given to record every query or command it sends to its target, on behalf of the probe (or
 * advisor) currently running: it counts round trips and forwards each command, timed, to the run's instrumentation.
 */
export class CommandLog {
  currentProbe = 'connect'
  roundTrips = 0
  private readonly counts = new Map<string, {probe: string; text: string; count: number}>()

  constructor(readonly target = '', private readonly instrumentation: Instrumentation = {}) {}

  record(text: string, roundTrips = 1, timing: {durationMs?: number; error?: unknown} = {}): void {
    this.roundTrips += roundTrips
    const short = text.replace(/\s+/g, ' ').trim().slice(0, 160)
    const key = `${this.currentProbe}\u0000${short}`
    const entry = this.counts.get(key)
    if (entry) entry.count += 1
    else this.counts.set(key, {probe: this.currentProbe, text: short, count: 1})
    try {
      this.instrumentation.command?.({target: this.target, probe: this.currentProbe, text: short, roundTrips,
        ...(timing.durationMs !== undefined ? {durationMs: timing.durationMs} : {}),
        ...(timing.error !== undefined ? {error: errorMessage(timing.error).split('\n')[0]} : {})})
    } catch {
      // An observer's failure must not fail the query it observed.
    }
  }

  /** Sends one command through `send`, recording it with its duration and error. */
  async run<T>(text: string, send: () => Promise<T>, roundTrips = 1): Promise<T> {
    const started = performance.now()
    try {
      const result = await send()
      this.record(text, roundTrips, {durationMs: performance.now() - started})
      return result
    } catch (error) {
      this.record(text, roundTrips, {durationMs: performance.now() - started, error})
      throw error
    }
  }

  toEntry(target: string = this.target): OverheadEntry {
    return {target, roundTrips: this.roundTrips, commands: [...this.counts.values()]}
  }
}

/** Opens and closes a connection of one kind; the connection object is what that kind's probes receive. */
export interface Driver<Conn = unknown> {
  kind: TargetKind
  /** `secrets`: the audit's registry, for any password or token the driver finds in options or files. */
  connect(target: TargetSpec, log: CommandLog, secrets?: Secrets): Promise<{conn: Conn; facts: Record<string, unknown>}>
  close(conn: Conn): Promise<void>
}
