import {analyseSnapshot, rulesByTarget} from './audit.js'
import {CaptureSession} from './capture.js'
import type {ChokepointConfig} from './config.js'
import {validateTargets} from './config.js'
import {errorMessage} from './errors.js'
import type {Instrumentation} from './instrumentation.js'
import {sleep} from './probe.js'
import {defaultConcurrency, Limiter} from './limiter.js'
import type {Registry} from './registry.js'
import type {Secrets} from './secrets.js'
import {SNAPSHOT_SCHEMA_VERSION, type FailOn, type Report, type Snapshot, type TargetInfo, type TargetSpec} from './types.js'
import {toolVersion} from './version.js'

/** The longest a target that went away waits between reconnects (or one interval, when that is longer). */
export const MAX_RECONNECT_BACKOFF_MS = 300_000

export interface WatchOptions {
  registry: Registry
  secrets: Secrets
  config: ChokepointConfig
  targets: TargetSpec[]
  /** The sampling window and the audit period: each audit's collect is the next one's baseline. */
  intervalSeconds: number
  failOn: FailOn
  log?: (message: string) => void
  instrumentation?: Instrumentation
  /**
   * Targets connecting, collecting or taking baselines at once (default: the config's, else defaultConcurrency()).
   * Each target keeps its one connection between rounds; the bound is on the work, so a round over hundreds of
   * targets never sends hundreds of probes' queries at the same moment.
   */
  concurrency?: number
}

/** What one round of the loop produced: the report, and whether each target could be read. */
export interface WatchAudit {
  report: Report
  /** Per target: reachable and read this round (true), or down. */
  up: Map<string, boolean>
  durationMs: number
  finishedAt: number
}

/** One target's kept connection: a CaptureSession of its own, so one target lost never touches the others. */
interface WatchedTarget {
  spec: TargetSpec
  session?: CaptureSession
  /** Baselines carried: the next round collects this target without waiting. */
  ready: boolean
  failures: number
  nextAttemptAt: number
  /** Why the target is down, for the report while it is. */
  down?: string
}

/**
 * Audits every target once per interval on kept connections. A round collects each ready target against the
 * baselines carried from the round before (nothing sleeps but the loop itself), analyses all of them as one report,
 * then carries the counters read as the next round's baselines. A target that cannot be connected, or whose probes
 * could not read anything, is closed, reported down and reconnected with exponential backoff; once reconnected it
 * takes its baselines then and is collected at the next round.
 */
export class WatchLoop {
  private readonly watched: WatchedTarget[]
  private readonly stopping = new AbortController()
  private running?: Promise<void>
  private readonly limiter: Limiter

  constructor(private readonly options: WatchOptions) {
    this.limiter = new Limiter(options.concurrency ?? options.config.concurrency ?? defaultConcurrency())
    this.watched = validateTargets(options.targets, options.registry).map((spec) => ({spec, ready: false, failures: 0, nextAttemptAt: 0}))
  }

  /** Runs rounds until stop(); `onAudit` gets each round's result. */
  start(onAudit: (audit: WatchAudit) => void): Promise<void> {
    this.running ??= this.loop(onAudit)
    return this.running
  }

  /** Ends the loop after the round under way and closes every connection. */
  async stop(): Promise<void> {
    this.stopping.abort()
    await this.running?.catch(() => {})
    await Promise.all(this.watched.map((w) => this.closeTarget(w)))
  }

  private async loop(onAudit: (audit: WatchAudit) => void): Promise<void> {
    const intervalMs = this.options.intervalSeconds * 1000
    while (!this.stopping.signal.aborted) {
      const roundStart = Date.now()
      const audit = await this.round()
      if (this.stopping.signal.aborted) break
      onAudit(audit)
      await sleep(Math.max(0, roundStart + intervalMs - Date.now()), this.stopping.signal)
    }
  }

  private sessionFor(spec: TargetSpec): CaptureSession {
    const {registry, secrets, config, intervalSeconds, log, instrumentation} = this.options
    return new CaptureSession([spec], {registry, secrets, windowSeconds: intervalSeconds, skipProbes: config.skipProbes, log, limiter: this.limiter,
      instrumentation, rulesFor: rulesByTarget(config, registry)})
  }

  private async closeTarget(w: WatchedTarget): Promise<void> {
    const session = w.session
    w.session = undefined
    w.ready = false
    await session?.close().catch(() => {})
  }

  private async markDown(w: WatchedTarget, why: string): Promise<void> {
    await this.closeTarget(w)
    w.failures += 1
    w.down = why
    const intervalMs = this.options.intervalSeconds * 1000
    const backoff = Math.min(intervalMs * 2 ** (w.failures - 1), Math.max(intervalMs, MAX_RECONNECT_BACKOFF_MS))
    w.nextAttemptAt = Date.now() + backoff
    this.options.log?.(`${w.spec.name}: down (${why}); next connect in ${Math.round(backoff / 1000)}s`)
  }

  /** Connects a target due for it and takes its baselines: it is collected at the next round. */
  private async connect(w: WatchedTarget): Promise<void> {
    const session = this.sessionFor(w.spec)
    w.session = session
    await session.open()
    if (!session.live().has(w.spec.name)) {
      // The connect failed: its reason is what a sample reports for the target, without reading anything.
      const info = (await session.sample(0)).targets[0]
      await this.markDown(w, info?.error ?? 'could not connect')
      return
    }
    await session.carryBaselines()
    w.ready = true
    w.down = undefined
  }

  private async round(): Promise<WatchAudit> {
    const {instrumentation} = this.options
    instrumentation?.auditStart?.({targets: this.watched.map((w) => w.spec.name)})
    const started = performance.now()
    try {
      return await this.roundOnce(started)
    } catch (error) {
      instrumentation?.auditEnd?.({durationMs: performance.now() - started, error: errorMessage(error)})
      throw error
    }
  }

  /** One round: its collects, its analysis, and the baselines carried to the next; auditEnd when it is done. */
  private async roundOnce(started: number): Promise<WatchAudit> {
    const now = Date.now()
    const collecting = this.watched.filter((w) => w.ready && w.session)
    const connecting = this.watched.filter((w) => !w.session && w.nextAttemptAt <= now)
    const [snapshots] = await Promise.all([
      Promise.all(collecting.map(async (w) => ({w, snapshot: await w.session!.sample(this.options.intervalSeconds)}))),
      Promise.all(connecting.map((w) => this.connect(w).catch((error) => this.markDown(w, errorMessage(error))))),
    ])
    const merged = this.merge(snapshots.map((s) => s.snapshot))
    const live = new Map<string, unknown>()
    for (const {w} of snapshots) for (const [name, conn] of w.session!.live()) live.set(name, conn)
    const {registry, secrets, config, failOn, log, instrumentation} = this.options
    const analysed = await analyseSnapshot(merged, {registry, secrets, config, failOn, source: 'live', live, log, instrumentation,
      commandLogs: (target) => this.watched.find((w) => w.spec.name === target)?.session?.commandLog(target), specs: this.watched.map((w) => w.spec)})
    const report: Report = {...analysed, overhead: snapshots.flatMap(({w}) => w.session!.overheadEntries() ?? [])}
    const up = new Map<string, boolean>()
    await Promise.all(snapshots.map(async ({w, snapshot}) => {
      const info = report.targets.find((t) => t.name === w.spec.name)
      // A connection the server closed fails every probe without being "lost" to the capture: nothing read is down.
      const readSomething = snapshot.readings.some((r) => r.status === 'ok')
      if (info?.status === 'ok' && readSomething && w.session!.live().has(w.spec.name)) {
        w.failures = 0
        await w.session!.carryBaselines()
        return
      }
      const why = info?.status === 'ok' ? lostReason(snapshot) : info?.error ?? 'the connection was lost'
      await this.markDown(w, why)
      // The round that found the target gone reports it down as the rounds after it will: /report and chokepoint_up agree.
      if (info) Object.assign(info, {status: 'error', error: why})
    }))
    if (report.targets.some((t) => t.status !== 'ok') && !report.gate.incomplete) {
      report.gate = {...report.gate, incomplete: true, exitCode: report.gate.passed ? 3 : report.gate.exitCode}
    }
    for (const w of this.watched) up.set(w.spec.name, w.session !== undefined && !w.down)
    const durationMs = performance.now() - started
    instrumentation?.auditEnd?.({durationMs})
    return {report, up, durationMs, finishedAt: Date.now()}
  }

  /** One snapshot of the round: the targets collected, those down with why, and those just connected (not read yet). */
  private merge(snapshots: Snapshot[]): Snapshot {
    const {secrets} = this.options
    const info = (w: WatchedTarget, status: 'error' | 'skipped', error: string): TargetInfo => ({name: w.spec.name, kind: w.spec.kind,
      ...(w.spec.group === undefined ? {} : {group: w.spec.group}), url: secrets.redactUrl(w.spec.url), status, error})
    const unread = this.watched.filter((w) => !snapshots.some((s) => s.targets.some((t) => t.name === w.spec.name)))
    // A target connected this round has only its baselines: it is listed, as not read yet, rather than left out.
    const downTargets: TargetInfo[] = unread.flatMap((w) => w.down ? [info(w, 'error', w.down)]
      : w.ready ? [info(w, 'skipped', CONNECTED_NOT_READ)] : [])
    return {
      schemaVersion: SNAPSHOT_SCHEMA_VERSION,
      tool: {name: 'chokepoint', version: toolVersion()},
      capturedAt: snapshots[0]?.capturedAt ?? new Date().toISOString(),
      windowSeconds: this.options.intervalSeconds,
      targets: [...snapshots.flatMap((s) => s.targets), ...downTargets],
      readings: snapshots.flatMap((s) => s.readings),
      overhead: snapshots.flatMap((s) => s.overhead ?? []),
    }
  }
}

/** What /report says of a target connected this round: its counters are read at the next. */
export const CONNECTED_NOT_READ = 'connected: its baselines were taken this round, its first reading is at the next audit'

/** Why a target reached at the last round read nothing this one: its first probe's error. */
function lostReason(snapshot: Snapshot): string {
  const failed = snapshot.readings.find((r) => r.status !== 'ok')
  return failed ? `nothing could be read: ${failed.probe}: ${failed.reason ?? failed.status}` : 'the connection was lost'
}
