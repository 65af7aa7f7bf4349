import {driverFor} from '../drivers/index.js'
import {probesFor} from '../probes/index.js'
import {ProbeSkip, errorMessage} from './errors.js'
import {CommandLog, type Driver, type ProbeContext} from './probe.js'
import {redactUrl, scrubSecrets} from './redact.js'
import {SNAPSHOT_SCHEMA_VERSION, type OverheadEntry, type Reading, type Snapshot, type TargetInfo, type TargetSpec} from './types.js'
import {toolVersion} from './version.js'

export interface CaptureOptions {
  windowSeconds: number
  /** Probe ids or prefixes not to run. */
  skipProbes?: string[]
  /** Keep connections open for advisors that need the live planner; the caller must close them. */
  keepOpen?: boolean
  log?: (message: string) => void
}

export interface LiveSession {
  driver: Driver<any>
  conn: unknown
}

export interface CaptureResult {
  snapshot: Snapshot
  live: Map<string, LiveSession>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function oneLine(text: string): string {
  return scrubSecrets(text.split('\n')[0].trim())
}

/** Probes every target in parallel (probes of one target run in turn on its one connection) and builds a Snapshot. */
export async function captureSnapshot(targets: TargetSpec[], options: CaptureOptions): Promise<CaptureResult> {
  const log = options.log ?? (() => {})
  const live = new Map<string, LiveSession>()
  const overhead: OverheadEntry[] = []
  const started = new Date()

  const perTarget = await Promise.all(targets.map(async (target) => {
    const info: TargetInfo = {name: target.name, kind: target.kind, url: redactUrl(target.url), status: 'ok'}
    const readings: Reading[] = []
    const driver = await driverFor(target.kind)
    if (!driver) {
      info.status = 'skipped'
      info.error = `no probes for ${target.kind} targets in this version`
      return {info, readings}
    }
    const commandLog = new CommandLog()
    let conn: unknown
    try {
      log(`${target.name}: connecting`)
      const opened = await driver.connect(target, commandLog)
      conn = opened.conn
      info.facts = opened.facts
    } catch (error) {
      info.status = 'error'
      info.error = `could not connect: ${oneLine(errorMessage(error))}`
      log(`${target.name}: skipped: ${info.error}`)
      return {info, readings}
    }
    const ctx: ProbeContext = {target, windowSeconds: options.windowSeconds, options: target.options ?? {}, log}
    const skip = options.skipProbes ?? []
    const probes = (await probesFor(target.kind)).filter((p) => !skip.some((s) => p.id === s || p.id.startsWith(`${s}.`)))
    const baselines = new Map<string, {value?: unknown; error?: unknown; at: number}>()
    if (options.windowSeconds > 0) {
      // Baselines run in reverse and collects in order, so each probe's window encloses only the probes listed
      // after it: the first probe (e.g. redis.info's hit rate) sees a window free of chokepoint's own reads.
      for (const probe of probes.filter((p) => p.baseline).reverse()) {
        commandLog.currentProbe = probe.id
        try {
          baselines.set(probe.id, {value: await probe.baseline!(conn, ctx), at: Date.now()})
        } catch (error) {
          baselines.set(probe.id, {error, at: Date.now()})
        }
      }
      if (baselines.size > 0) {
        log(`${target.name}: sampling for ${options.windowSeconds}s`)
        await sleep(options.windowSeconds * 1000)
      }
    }
    for (const probe of probes) {
      commandLog.currentProbe = probe.id
      const t0 = Date.now()
      const base = baselines.get(probe.id)
      const reading: Reading = {target: target.name, probe: probe.id, takenAt: new Date().toISOString(), durationMs: 0, status: 'ok', metrics: []}
      try {
        if (base?.error) throw base.error
        const out = await probe.collect(conn, ctx, base?.value)
        reading.data = out.data
        reading.metrics = out.metrics
        if (out.status && out.status !== 'ok') {
          reading.status = out.status
          reading.reason = out.reason ? oneLine(out.reason) : undefined
        }
        reading.windowSeconds = base ? Math.round((Date.now() - base.at) / 100) / 10 : 0
      } catch (error) {
        reading.status = error instanceof ProbeSkip ? 'skipped' : 'error'
        reading.reason = oneLine(errorMessage(error))
        log(`${target.name}: ${probe.id}: skipped: ${reading.reason}`)
      }
      reading.durationMs = Date.now() - t0
      readings.push(reading)
    }
    overhead.push(commandLog.toEntry(target.name))
    if (options.keepOpen) live.set(target.name, {driver, conn})
    else await driver.close(conn)
    return {info, readings}
  }))

  const snapshot: Snapshot = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    tool: {name: 'chokepoint', version: toolVersion()},
    capturedAt: started.toISOString(),
    windowSeconds: options.windowSeconds,
    targets: perTarget.map((t) => t.info),
    readings: perTarget.flatMap((t) => t.readings),
    overhead,
  }
  return {snapshot, live}
}

export async function closeLive(live: Map<string, LiveSession>): Promise<void> {
  await Promise.all([...live.values()].map((s) => s.driver.close(s.conn).catch(() => {})))
  live.clear()
}
