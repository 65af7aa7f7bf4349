/**
 * Runs one queue probe against a real server the way capture does (baseline, window, collect), then the
 * shipped rules and advisors over the resulting snapshot, so a test sees the findings a user would.
 */
import {analyseSnapshot} from '../../../src/index.js'
import {CommandLog, type Driver, type Probe} from '../../../src/core/probe.js'
import {SNAPSHOT_SCHEMA_VERSION, type Finding, type Report, type Snapshot, type TargetSpec} from '../../../src/core/types.js'
import {isQueueReadingData, type QueueSummary} from '../../../src/probes/queues/normalise.js'

export interface ProbeRun {
  report: Report
  snapshot: Snapshot
  queues: QueueSummary[]
  roundTrips: number
  status: string
  reason?: string
  findings: (rule: string, subject?: string) => Finding[]
}

export async function runQueueProbe<C>(
  driver: Driver<C>,
  probe: Probe<C>,
  target: TargetSpec,
  opts: {windowSeconds?: number; between?: () => Promise<void>} = {},
): Promise<ProbeRun> {
  const log = new CommandLog()
  const {conn, facts} = await driver.connect(target, log)
  const windowSeconds = opts.windowSeconds ?? 0
  const ctx = {target, windowSeconds, options: target.options ?? {}, log: () => {}}
  let reading: Snapshot['readings'][number]
  try {
    log.currentProbe = probe.id
    const baseline = windowSeconds > 0 && probe.baseline ? await probe.baseline(conn, ctx) : undefined
    if (windowSeconds > 0) {
      await opts.between?.()
      await new Promise((r) => setTimeout(r, windowSeconds * 1000))
    }
    reading = {target: target.name, probe: probe.id, takenAt: new Date().toISOString(), durationMs: 0, status: 'ok', metrics: [], windowSeconds}
    try {
      const out = await probe.collect(conn, ctx, baseline)
      reading.data = out.data
      reading.metrics = out.metrics
      if (out.status) reading.status = out.status
      if (out.reason) reading.reason = out.reason
    } catch (error) {
      reading.status = (error as Error).name === 'ProbeSkip' ? 'skipped' : 'error'
      reading.reason = (error as Error).message
    }
  } finally {
    await driver.close(conn)
  }
  const snapshot: Snapshot = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    tool: {name: 'chokepoint', version: 'test'},
    capturedAt: new Date().toISOString(),
    windowSeconds,
    targets: [{name: target.name, kind: target.kind, url: target.url, status: 'ok', facts}],
    readings: [reading],
    overhead: [log.toEntry(target.name)],
  }
  const report = await analyseSnapshot(snapshot, {failOn: 'critical', source: 'snapshot', specs: [target]})
  const queues = isQueueReadingData(reading.data) ? reading.data.queues : []
  return {
    report,
    snapshot,
    queues,
    roundTrips: log.roundTrips,
    status: reading.status,
    reason: reading.reason,
    findings: (rule, subject) => report.findings.filter((f) => f.rule === rule && (subject === undefined || f.subject === subject)),
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}
