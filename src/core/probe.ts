import type {Progress} from './progress.js'
import {errorMessage} from './errors.js'
import type {Instrumentation} from './instrumentation.js'
import type {Secrets} from './secrets.js'
import type {Metric, OverheadEntry, ReadingGap, ReadingStatus, TargetKind, TargetSpec} from './types.js'

export interface ProbeContext {
  target: TargetSpec
  /** Seconds between baseline() and collect(); 0 means read once and use counters since the last stats reset. */
  windowSeconds: number
  options: Record<string, unknown>
  /** Progress and verbose diagnostics, to stderr. */
  log: (message: string) => void
  /** Progress of a long read (a large key sample), drawn by the caller; absent in hand-built contexts. */
  progress?: Progress
  /**
   * What the rules that judge a metric ask of its reading, by metric name: the history the value should cover
   * (rule `lookback`, after the user's overrides). Probes that keep no history ignore it.
   */
  lookbacks?: Record<string, MetricLookback>
}

/** The lookback the enabled rules selecting one metric ask for (the longest, when several do). */
export interface MetricLookback {
  seconds: number
  /** A rule needs the level held through it (min and max of a short-step series), not only the value over it. */
  sustained: boolean
  rules: string[]
  /** Set in the user's config (a rule setting or override), not only by the rule file. */
  configured: boolean
}

export interface ProbeOutput {
  data?: unknown
  metrics: Metric[]
  /** A probe may report a partial failure itself (e.g. one of several queues unreadable). */
  status?: ReadingStatus
  reason?: string
  /**
   * What the probe read but had to leave out (e.g. other users' query texts hidden without pg_read_all_stats), with
   * the fix: the report lists it under "Not read". A gap whose `missing` equals its `of` means nothing was read.
   */
  notRead?: ReadingGap[]
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
      this.instrumentation.command?.({target: this.target, probe: this.currentProbe, text: short, query: text, roundTrips,
        ...(timing.durationMs !== undefined ? {durationMs: timing.durationMs} : {}),
        ...(timing.error !== undefined ? {error: errorMessage(timing.error).split('\n')[0], errorType: errorType(timing.error)} : {})})
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

/**
 * A failure's kind, low in cardinality and free of values: the error's code when it has one (a SQLSTATE from
 * PostgreSQL, ECONNRESET from a socket), the leading upper-case word of a Redis error reply (WRONGTYPE, NOAUTH,
 * ERR), else its class name.
 */
export function errorType(error: unknown): string {
  const e = (error ?? {}) as {code?: unknown; name?: unknown; message?: unknown}
  if (typeof e.code === 'string' && /^[A-Za-z0-9_]{1,40}$/.test(e.code)) return e.code
  const name = typeof e.name === 'string' && e.name ? e.name : 'Error'
  const prefix = name === 'ReplyError' && typeof e.message === 'string' ? /^([A-Z][A-Z_]{1,30})\b/.exec(e.message)?.[1] : undefined
  return prefix ?? name
}

export interface ConnectOptions {
  /**
   * Aborted when the capture gives up on the target (its budget ran out while connecting): the driver destroys the
   * socket it is dialling, so nothing it opened outlives the audit.
   */
  signal?: AbortSignal
}

/** Opens and closes a connection of one kind; the connection object is what that kind's probes receive. */
export interface Driver<Conn = unknown> {
  kind: TargetKind
  /** `secrets`: the audit's registry, for any password or token the driver finds in options or files. */
  connect(target: TargetSpec, log: CommandLog, secrets?: Secrets, options?: ConnectOptions): Promise<{conn: Conn; facts: Record<string, unknown>}>
  /** A graceful goodbye; the capture bounds it and falls back to abort(). */
  close(conn: Conn): Promise<void>
  /**
   * Drops the connection at once (destroys its sockets), without a goodbye the target may never answer: what the
   * capture calls on a target that stalled. Without it, the capture calls close() and does not wait for it.
   */
  abort?(conn: Conn): void
}

/**
 * A target that did not answer within a deadline on the client side (the server's statement_timeout cannot help
 * when the wire itself is stalled). The driver has dropped the connection; `what` says what was waited for.
 */
export class DeadlineExceeded extends Error {
  constructor(readonly what: string, readonly ms: number, detail = 'the connection was dropped') {
    super(`no answer ${what} within ${formatMs(ms)}: ${detail}`)
    this.name = 'DeadlineExceeded'
  }
}

/** Thrown for any use of a connection a driver dropped after a deadline: later probes fail at once, saying why. */
export class ConnectionLost extends Error {
  constructor(readonly why: string) {
    super(`not read: the connection was dropped earlier (${why})`)
    this.name = 'ConnectionLost'
  }
}

/** A positive finite number of milliseconds from a target option (YAML may give "5000"), else undefined: the default applies. */
export function positiveMs(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`
}

/**
 * Races `work` against a deadline: past it, `onExpire` drops the connection (so the stalled socket does not hold
 * the process) and the promise rejects with DeadlineExceeded. The timer is cleared as soon as `work` settles.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string, onExpire: () => void): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return work
  return settleWithin(work, ms, () => {
    try {
      onExpire()
    } catch {
      // Dropping a connection that is already gone must not hide the deadline.
    }
    return new DeadlineExceeded(what, ms)
  })
}

/** Waits `ms`, or less when `signal` aborts (at once if it already has); never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })
}

/**
 * Settles as `work` does, or rejects with `onTimeout()` after `ms` (at once when `ms` is not positive: the time is
 * already spent). A late settlement of `work` is absorbed; the timer is cleared as soon as `work` settles.
 */
export function settleWithin<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms))
    work.then((value) => {
      clearTimeout(timer)
      resolve(value)
    }, (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })
}

/** Calls `abort` once when `signal` fires; returns the function that stops following it. */
export function followAbort(signal: AbortSignal | undefined, abort: () => void): () => void {
  if (!signal) return () => {}
  signal.addEventListener('abort', abort, {once: true})
  return () => signal.removeEventListener('abort', abort)
}
