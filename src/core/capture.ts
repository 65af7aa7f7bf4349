import {ProbeSkip, errorMessage} from './errors.js'
import {combineInstrumentation, OverheadCollector, type Instrumentation} from './instrumentation.js'
import {CommandLog, type Driver, type Probe, type ProbeContext} from './probe.js'
import type {Registry} from './registry.js'
import type {Secrets} from './secrets.js'
import {SNAPSHOT_SCHEMA_VERSION, type Reading, type Snapshot, type TargetInfo, type TargetSpec} from './types.js'
import {toolVersion} from './version.js'

export interface CaptureOptions {
  registry: Registry
  secrets: Secrets
  windowSeconds: number
  /** Probe ids or prefixes not to run. */
  skipProbes?: string[]
  log?: (message: string) => void
  instrumentation?: Instrumentation
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
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Connections to every target, opened once and sampled any number of times. A sample after the first takes the
 * previous one's collect as its baseline, so a loop of samples (watch mode) reads each counter once per window and
 * never sleeps twice. Live connections stay available to advisors between samples.
 */
export class CaptureSession {
  private readonly sessions: TargetSession[] = []
  private readonly overhead = new OverheadCollector()
  private readonly instrumentation: Instrumentation
  private opened = false

  constructor(private readonly targets: TargetSpec[], private readonly options: CaptureOptions) {
    this.instrumentation = combineInstrumentation(this.overhead, options.instrumentation)
  }

  private oneLine(text: string): string {
    return this.options.secrets.scrub(text.split('\n')[0].trim())
  }

  /** Connects to every target in parallel; a target that cannot be reached is recorded, never thrown. */
  async open(): Promise<void> {
    if (this.opened) return
    this.opened = true
    const log = this.options.log ?? (() => {})
    const skip = this.options.skipProbes ?? []
    this.sessions.push(...await Promise.all(this.targets.map(async (spec): Promise<TargetSession> => {
      const info: TargetInfo = {name: spec.name, kind: spec.kind, url: this.options.secrets.redactUrl(spec.url), status: 'ok'}
      const commands = new CommandLog(spec.name, this.instrumentation)
      const session: TargetSession = {spec, info, commands, probes: [], carried: new Map()}
      const driver = await this.options.registry.driverFor(spec.kind)
      if (!driver) {
        info.status = 'skipped'
        info.error = `no plugin defines ${spec.kind} targets`
        return session
      }
      try {
        log(`${spec.name}: connecting`)
        const opened = await driver.connect(spec, commands, this.options.secrets)
        session.driver = driver
        session.conn = opened.conn
        info.facts = opened.facts
      } catch (error) {
        info.status = 'error'
        info.error = `could not connect: ${this.oneLine(errorMessage(error))}`
        log(`${spec.name}: skipped: ${info.error}`)
        return session
      }
      session.probes = (await this.options.registry.probesFor(spec.kind)).filter((p) => !skip.some((s) => p.id === s || p.id.startsWith(`${s}.`)))
      return session
    })))
  }

  /** The open connections by target name, for advisors that need a live planner. */
  live(): Map<string, unknown> {
    return new Map(this.sessions.filter((s) => s.conn !== undefined).map((s) => [s.spec.name, s.conn]))
  }

  /** The command log of one target, so advisors' queries count in the overhead report too. */
  commandLog(target: string): CommandLog | undefined {
    return this.sessions.find((s) => s.spec.name === target)?.commands
  }

  /** Round trips and commands per target since the session opened (probes and advisors). */
  overheadEntries(): Snapshot['overhead'] {
    return this.overhead.entries(this.sessions.map((s) => s.spec.name))
  }

  /** Probes every target in parallel (probes of one target run in turn on its one connection). */
  async sample(windowSeconds = this.options.windowSeconds): Promise<Snapshot> {
    await this.open()
    const started = new Date()
    const perTarget = await Promise.all(this.sessions.map((s) => this.sampleTarget(s, windowSeconds)))
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

  private async baseline(session: TargetSession, probe: Probe<any>, ctx: ProbeContext): Promise<{value?: unknown; error?: unknown; at: number}> {
    session.commands.currentProbe = probe.id
    try {
      return {value: await probe.baseline!(session.conn, ctx), at: Date.now()}
    } catch (error) {
      return {error, at: Date.now()}
    }
  }

  private async sampleTarget(session: TargetSession, windowSeconds: number): Promise<Reading[]> {
    if (session.info.status !== 'ok') return []
    const log = this.options.log ?? (() => {})
    const {spec, probes, commands} = session
    const ctx: ProbeContext = {target: spec, windowSeconds, options: spec.options ?? {}, log}
    const baselines = new Map<string, {value?: unknown; error?: unknown; at: number}>()
    if (windowSeconds > 0) {
      // Baselines run in reverse and collects in order, so each probe's window encloses only the probes listed
      // after it: the first probe (e.g. redis.info's hit rate) sees a window free of chokepoint's own reads.
      const fresh = probes.filter((p) => p.baseline && !session.carried.has(p.id)).reverse()
      for (const probe of fresh) baselines.set(probe.id, await this.baseline(session, probe, ctx))
      for (const [id, carried] of session.carried) baselines.set(id, carried)
      session.carried.clear()
      if (fresh.length > 0) {
        log(`${spec.name}: sampling for ${windowSeconds}s`)
        await sleep(windowSeconds * 1000)
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
        const out = await probe.collect(session.conn, ctx, base?.value)
        reading.data = out.data
        reading.metrics = out.metrics
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
    await Promise.all(this.sessions.filter((s) => s.info.status === 'ok').map(async (session) => {
      const ctx: ProbeContext = {target: session.spec, windowSeconds: this.options.windowSeconds, options: session.spec.options ?? {}, log: this.options.log ?? (() => {})}
      for (const probe of session.probes.filter((p) => p.baseline && !session.carried.has(p.id)).reverse()) {
        session.carried.set(probe.id, await this.baseline(session, probe, ctx))
      }
    }))
  }

  async close(): Promise<void> {
    await Promise.all(this.sessions.map(async (s) => {
      if (s.driver && s.conn !== undefined) await s.driver.close(s.conn).catch(() => {})
      s.conn = undefined
    }))
  }
}

/** One sample of every target, connections closed afterwards: what `chokepoint capture` writes. */
export async function captureSnapshot(targets: TargetSpec[], options: CaptureOptions): Promise<Snapshot> {
  const session = new CaptureSession(targets, options)
  try {
    return await session.sample()
  } finally {
    await session.close()
  }
}
