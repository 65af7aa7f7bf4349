import {ProbeSkip, errorMessage} from './errors.js'
import {combineInstrumentation, OverheadCollector, type Instrumentation} from './instrumentation.js'
import {CommandLog, DeadlineExceeded, formatMs, settleWithin, sleep, type Driver, type Probe, type ProbeContext} from './probe.js'
import {effectiveRules} from './config.js'
import type {Registry} from './registry.js'
import {metricLookbacks, type EffectiveRule} from './rules.js'
import type {Secrets} from './secrets.js'
import {SNAPSHOT_SCHEMA_VERSION, type Reading, type Snapshot, type TargetInfo, type TargetSpec} from './types.js'
import type {Progress} from './progress.js'
import {defaultConcurrency, Limiter} from './limiter.js'
import {toolVersion} from './version.js'

export interface CaptureOptions {
  registry: Registry
  secrets: Secrets
  windowSeconds: number
  /** Probe ids or prefixes not to run. */
  skipProbes?: string[]
  log?: (message: string) => void
  /** Progress of the sampling window and of long probes (default: none). */
  progress?: Progress
  instrumentation?: Instrumentation
  /**
   * The rules as they apply to a target (after the config's overrides), for the lookbacks probes read over
   * (ProbeContext.lookbacks). Default: the registry's rules as their files define them.
   */
  rulesFor?: (target: string) => EffectiveRule[]
  /** Targets connected and sampled at once (default: defaultConcurrency()); ignored when `limiter` is given. */
  concurrency?: number
  /** A limiter shared with other sessions (watch: one session per target, one bound for them all). */
  limiter?: Limiter
  /**
   * Closes each target's connection as soon as its first sample is taken, within its turn, so a fleet larger than
   * the concurrency never holds more connections than that. The session then samples once: live() is empty after.
   */
  closeAfterSample?: boolean
}

/** One target's open connection, its probes and its command log, kept across samples. */
interface TargetSession {
  spec: TargetSpec
  info: TargetInfo
  driver?: Driver<any>
  conn?: unknown
  commands: CommandLog
  probes: Array<Probe<any>>
  /** Baselines left by the previous sample (a probe's nextBaseline, or a read right after its collect). */
  carried: Map<string, {value?: unknown; error?: unknown; at: number}>
  /** When the current sample's budget runs out (epoch ms), and how long that budget was. */
  deadline: number
  budgetMs: number
  /** When the next sample's budget started, if it already has: at the connect (open), or with the carried baselines. */
  budgetStart?: number
  /** Why the connection is gone (a stall, its stage and probe): nothing more is sent to this target. */
  lost?: string
}

/**
 * What a target gets beyond the window for everything else (connect, every baseline and collect). Each query or
 * command is bounded on its own by its driver (seconds); this is the backstop for a target that answers, but too
 * slowly to finish (a trickle), and for plugin drivers with no deadlines of their own.
 */
export const TARGET_ALLOWANCE_MS = 60_000
/** A graceful close that takes longer than this is cut short: the target is not answering its goodbye. */
export const CLOSE_GRACE_MS = 2_000
/** The target option that replaces the derived budget (milliseconds, for the whole target per sample). */
export const TARGET_TIMEOUT_OPTION = 'targetTimeoutMs'

/** A target's budget per sample: the window plus TARGET_ALLOWANCE_MS, or the target's `targetTimeoutMs`. */
export function targetBudgetMs(spec: TargetSpec, windowSeconds: number): number {
  const raw = spec.options?.[TARGET_TIMEOUT_OPTION]
  const override = Number(raw)
  if (raw !== undefined && raw !== null && raw !== '' && Number.isFinite(override) && override > 0) return override
  return Math.round(Math.max(0, windowSeconds) * 1000) + TARGET_ALLOWANCE_MS
}

/** The target's budget ran out: the capture gave up on it (the message replaces the generic "no answer ... within"). */
class TargetStalled extends DeadlineExceeded {
  constructor(budgetMs: number) {
    super(`within the target's budget`, budgetMs)
    this.message = `no answer within the target's budget of ${formatMs(budgetMs)} (window + ${formatMs(TARGET_ALLOWANCE_MS)}, or ${TARGET_TIMEOUT_OPTION}): the connection was dropped`
  }
}



/**
 * Connections to every target, opened once and sampled any number of times. A sample after the first takes the
 * previous one's collect as its baseline, so a loop of samples (watch mode) reads each counter once per window and
 * never sleeps twice. Live connections stay available to advisors between samples.
 */
export class CaptureSession {
  private readonly sessions: TargetSession[] = []
  private readonly overhead = new OverheadCollector()
  private readonly instrumentation: Instrumentation
  private readonly limiter: Limiter
  private opened = false

  constructor(private readonly targets: TargetSpec[], private readonly options: CaptureOptions) {
    this.instrumentation = combineInstrumentation(this.overhead, options.instrumentation)
    this.limiter = options.limiter ?? new Limiter(options.concurrency ?? defaultConcurrency())
  }

  private oneLine(text: string): string {
    return this.options.secrets.scrub(text.split('\n')[0].trim())
  }

  /**
   * Connects to every target, as many at once as the concurrency allows; a target that cannot be reached is
   * recorded, never thrown. A connect that outlasts the target's budget is abandoned (the driver's socket destroyed
   * through the abort signal).
   */
  async open(): Promise<void> {
    if (this.opened) return
    this.opened = true
    this.sessions.push(...await Promise.all(this.targets.map((spec) => this.limiter.run(() => this.openTarget(spec)))))
  }

  /** One target's connect. Its budget starts here, when its turn comes, not when the capture started. */
  private async openTarget(spec: TargetSpec): Promise<TargetSession> {
    const log = this.options.log ?? (() => {})
    const skip = this.options.skipProbes ?? []
    const info: TargetInfo = {name: spec.name, kind: spec.kind, ...(spec.group === undefined ? {} : {group: spec.group}),
      url: this.options.secrets.redactUrl(spec.url), status: 'ok'}
    const commands = new CommandLog(spec.name, this.instrumentation)
    const budgetMs = targetBudgetMs(spec, this.options.windowSeconds)
    const started = Date.now()
    const session: TargetSession = {spec, info, commands, probes: [], carried: new Map(), budgetMs, deadline: started + budgetMs, budgetStart: started}
    const driver = await this.options.registry.driverFor(spec.kind)
    if (!driver) {
      info.status = 'skipped'
      info.error = `no plugin defines ${spec.kind} targets`
      return session
    }
    const abort = new AbortController()
    const target = {target: spec.name, kind: spec.kind, url: info.url}
    this.instrumentation.connectStart?.(target)
    const connectStarted = performance.now()
    const connecting = Promise.resolve().then(() => driver.connect(spec, commands, this.options.secrets, {signal: abort.signal}))
    try {
      log(`${spec.name}: connecting`)
      const opened = await settleWithin(connecting, session.deadline - Date.now(), () => new TargetStalled(budgetMs))
      session.driver = driver
      session.conn = opened.conn
      info.facts = opened.facts
      this.instrumentation.connectEnd?.({...target, durationMs: performance.now() - connectStarted, facts: opened.facts})
    } catch (error) {
      if (error instanceof TargetStalled) {
        abort.abort(error)
        // A driver that ignores the signal may still finish connecting: close what it opens, unawaited.
        connecting.then((late) => dropConnection(driver, late.conn), () => {})
      }
      info.status = 'error'
      info.error = `could not connect: ${error instanceof TargetStalled ? 'stalled in connect: ' : ''}${this.oneLine(errorMessage(error))}`
      this.instrumentation.connectEnd?.({...target, durationMs: performance.now() - connectStarted, error: info.error})
      log(`${spec.name}: skipped: ${info.error}`)
      return session
    }
    session.probes = (await this.options.registry.probesFor(spec.kind)).filter((p) => !skip.some((s) => p.id === s || p.id.startsWith(`${s}.`)))
    return session
  }

  /** What the rules judging each metric of a target ask its probes to read over. */
  private lookbacks(target: string): ProbeContext['lookbacks'] {
    const rules = this.options.rulesFor?.(target) ?? effectiveRules({}, target, this.options.registry.rules())
    return metricLookbacks(rules)
  }

  /** The open connections by target name, for advisors that need a live planner. */
  live(): Map<string, unknown> {
    return new Map(this.sessions.filter((s) => s.conn !== undefined && !s.lost).map((s) => [s.spec.name, s.conn]))
  }

  /** The command log of one target, so advisors' queries count in the overhead report too. */
  commandLog(target: string): CommandLog | undefined {
    return this.sessions.find((s) => s.spec.name === target)?.commands
  }

  /** Round trips and commands per target since the session opened (probes and advisors). */
  overheadEntries(): Snapshot['overhead'] {
    return this.overhead.entries(this.sessions.map((s) => s.spec.name))
  }

  /**
   * Probes every target, as many at once as the concurrency allows (probes of one target run in turn on its one
   * connection). The first sample of a session not opened yet connects and samples each target in one turn, so a
   * target waiting for its turn holds no connection.
   */
  async sample(windowSeconds = this.options.windowSeconds): Promise<Snapshot> {
    const started = new Date()
    let perTarget: Reading[][]
    if (this.opened) {
      perTarget = await Promise.all(this.sessions.map((s) => this.limiter.run(() => this.sampleAndMaybeClose(s, windowSeconds))))
    } else {
      this.opened = true
      const turns = await Promise.all(this.targets.map((spec) => this.limiter.run(async () => {
        const session = await this.openTarget(spec)
        return {session, readings: await this.sampleAndMaybeClose(session, windowSeconds)}
      })))
      this.sessions.push(...turns.map((t) => t.session))
      perTarget = turns.map((t) => t.readings)
    }
    return {
      schemaVersion: SNAPSHOT_SCHEMA_VERSION,
      tool: {name: 'chokepoint', version: toolVersion()},
      capturedAt: started.toISOString(),
      windowSeconds,
      targets: this.sessions.map((s) => ({...s.info})),
      readings: perTarget.flat(),
      overhead: this.overheadEntries(),
    }
  }

  private async sampleAndMaybeClose(session: TargetSession, windowSeconds: number): Promise<Reading[]> {
    const readings = await this.sampleTarget(session, windowSeconds)
    if (this.options.closeAfterSample) {
      await this.closeTarget(session)
      session.lost ??= 'the connection was closed after its sample (closeAfterSample)'
    }
    return readings
  }

  /** Starts the budget of a sample (the first sample's started at the connect, in open()). */
  private startBudget(session: TargetSession, windowSeconds: number): void {
    const start = session.budgetStart ?? Date.now()
    session.budgetStart = undefined
    session.budgetMs = targetBudgetMs(session.spec, windowSeconds)
    session.deadline = start + session.budgetMs
  }

  /**
   * Runs one probe call within what is left of the target's budget. A stall (the driver's own deadline, or the
   * budget) marks the connection lost, naming the probe and stage, and drops it: nothing more is sent to the target.
   */
  private async bounded<T>(session: TargetSession, probeId: string, stage: 'baseline' | 'collect', call: () => Promise<T>): Promise<T> {
    if (session.lost) throw new Error(`not read: ${session.lost}`)
    try {
      return await settleWithin(Promise.resolve().then(call), session.deadline - Date.now(), () => new TargetStalled(session.budgetMs))
    } catch (error) {
      if (!(error instanceof DeadlineExceeded)) throw error
      session.lost = `the connection was dropped when ${probeId} stalled in ${stage}`
      this.drop(session)
      throw new Error(`stalled in ${stage}: ${errorMessage(error)}`)
    }
  }

  /** Drops a stalled target's connection at once: no goodbye, which it would not answer either. */
  private drop(session: TargetSession): void {
    if (session.driver && session.conn !== undefined) dropConnection(session.driver, session.conn)
  }

  private async baseline(session: TargetSession, probe: Probe<any>, ctx: ProbeContext): Promise<{value?: unknown; error?: unknown; at: number}> {
    session.commands.currentProbe = probe.id
    const event = {target: session.spec.name, probe: probe.id}
    this.instrumentation.baselineStart?.(event)
    const started = performance.now()
    try {
      const value = await this.bounded(session, probe.id, 'baseline', () => probe.baseline!(session.conn, ctx))
      this.instrumentation.baselineEnd?.({...event, durationMs: performance.now() - started})
      return {value, at: Date.now()}
    } catch (error) {
      this.instrumentation.baselineEnd?.({...event, durationMs: performance.now() - started, error: this.oneLine(errorMessage(error))})
      return {error, at: Date.now()}
    }
  }

  /** The window, with its progress ticking once a second. */
  private async waitWindow(target: string, windowSeconds: number): Promise<void> {
    const task = this.options.progress?.start(`${target}: sampling window`, windowSeconds, 's')
    const started = Date.now()
    const timer = task ? setInterval(() => task.tick(Math.min(windowSeconds, Math.round((Date.now() - started) / 1000))), 1000) : undefined
    try {
      await sleep(windowSeconds * 1000)
    } finally {
      if (timer) clearInterval(timer)
      task?.tick(windowSeconds)
      task?.end()
    }
  }

  private async sampleTarget(session: TargetSession, windowSeconds: number): Promise<Reading[]> {
    if (session.info.status !== 'ok') return []
    this.startBudget(session, windowSeconds)
    const log = this.options.log ?? (() => {})
    const {spec, probes, commands} = session
    const ctx: ProbeContext = {target: spec, windowSeconds, options: spec.options ?? {}, log, lookbacks: this.lookbacks(spec.name), progress: this.options.progress}
    const baselines = new Map<string, {value?: unknown; error?: unknown; at: number}>()
    if (windowSeconds > 0) {
      // Baselines run in reverse and collects in order, so each probe's window encloses only the probes listed
      // after it: the first probe (e.g. redis.info's hit rate) sees a window free of chokepoint's own reads.
      const fresh = probes.filter((p) => p.baseline && !session.carried.has(p.id)).reverse()
      for (const probe of fresh) baselines.set(probe.id, await this.baseline(session, probe, ctx))
      for (const [id, carried] of session.carried) baselines.set(id, carried)
      session.carried.clear()
      // A target that stalled in its baselines has nothing left to wait for.
      if (fresh.length > 0 && !session.lost) {
        log(`${spec.name}: sampling for ${windowSeconds}s`)
        await this.waitWindow(spec.name, windowSeconds)
      }
    }
    const readings: Reading[] = []
    for (const probe of probes) {
      commands.currentProbe = probe.id
      const t0 = Date.now()
      const base = baselines.get(probe.id)
      const reading: Reading = {target: spec.name, probe: probe.id, takenAt: new Date().toISOString(), durationMs: 0, status: 'ok', metrics: []}
      this.instrumentation.probeStart?.({target: spec.name, probe: probe.id})
      try {
        if (base?.error) throw base.error
        const out = await this.bounded(session, probe.id, 'collect', () => probe.collect(session.conn, ctx, base?.value))
        reading.data = out.data
        reading.metrics = out.metrics
        if (out.notRead?.length) {
          reading.notRead = out.notRead.map((g) => ({...g, reason: this.oneLine(g.reason), ...(g.fix ? {fix: this.oneLine(g.fix)} : {})}))
        }
        if (out.status && out.status !== 'ok') {
          reading.status = out.status
          reading.reason = out.reason ? this.oneLine(out.reason) : undefined
        }
        reading.windowSeconds = base ? Math.round((Date.now() - base.at) / 100) / 10 : 0
        if (out.nextBaseline !== undefined) session.carried.set(probe.id, {value: out.nextBaseline, at: Date.now()})
      } catch (error) {
        reading.status = error instanceof ProbeSkip ? 'skipped' : 'error'
        reading.reason = this.oneLine(errorMessage(error))
        log(`${spec.name}: ${probe.id}: skipped: ${reading.reason}`)
      }
      reading.durationMs = Date.now() - t0
      this.instrumentation.probeEnd?.({target: spec.name, probe: probe.id, durationMs: reading.durationMs, status: reading.status,
        ...(reading.status !== 'ok' && reading.reason ? {error: reading.reason} : {})})
      readings.push(reading)
    }
    return readings
  }

  /**
   * Keeps the counters read now as the baseline of the next sample, for probes whose collect did not hand one over:
   * call it right after sample() when another sample follows.
   */
  async carryBaselines(): Promise<void> {
    await Promise.all(this.sessions.filter((s) => s.info.status === 'ok' && !s.lost).map((session) => this.limiter.run(async () => {
      const ctx: ProbeContext = {target: session.spec, windowSeconds: this.options.windowSeconds, options: session.spec.options ?? {}, log: this.options.log ?? (() => {}),
        lookbacks: this.lookbacks(session.spec.name)}
      // These reads open the next sample: they count against its budget.
      session.budgetStart = Date.now()
      session.budgetMs = targetBudgetMs(session.spec, this.options.windowSeconds)
      session.deadline = session.budgetStart + session.budgetMs
      for (const probe of session.probes.filter((p) => p.baseline && !session.carried.has(p.id)).reverse()) {
        session.carried.set(probe.id, await this.baseline(session, probe, ctx))
      }
    })))
  }

  /** Says goodbye to every target, each within CLOSE_GRACE_MS; one that does not answer is dropped. */
  async close(): Promise<void> {
    await Promise.all(this.sessions.map((s) => this.closeTarget(s)))
  }

  private async closeTarget(s: TargetSession): Promise<void> {
    const {driver, conn} = s
    s.conn = undefined
    if (!driver || conn === undefined) return
    if (s.lost) return dropConnection(driver, conn)
    try {
      await settleWithin(driver.close(conn), CLOSE_GRACE_MS, () => new Error('close timed out'))
    } catch {
      dropConnection(driver, conn)
    }
  }
}

/** abort() when the driver has one; otherwise its close(), not waited for. */
function dropConnection(driver: Driver<any>, conn: unknown): void {
  try {
    if (driver.abort) driver.abort(conn)
    else void Promise.resolve().then(() => driver.close(conn)).catch(() => {})
  } catch {
    // The connection is being given up on: a failure to drop it changes nothing for the audit.
  }
}

/** One sample of every target, connections closed afterwards: what `chokepoint capture` writes. */
export async function captureSnapshot(targets: TargetSpec[], options: CaptureOptions): Promise<Snapshot> {
  // Nothing after the sample needs a connection: each closes within its turn, so at most `concurrency` are open.
  const started = performance.now()
  options.instrumentation?.auditStart?.({targets: targets.map((t) => t.name)})
  const session = new CaptureSession(targets, {closeAfterSample: true, ...options})
  let failure: unknown
  try {
    return await session.sample()
  } catch (error) {
    failure = error
    throw error
  } finally {
    await session.close()
    options.instrumentation?.auditEnd?.({durationMs: performance.now() - started, ...(failure ? {error: errorMessage(failure)} : {})})
  }
}
