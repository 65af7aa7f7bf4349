/** Helpers for the Redis integration tests: a one-target audit through runAudit, and a probe run with traffic in its window. */
import {Redis} from 'ioredis'
import {analyseSnapshot, runAudit} from '../../../src/index.js'
import type {ChokepointConfig} from '../../../src/core/config.js'
import {CommandLog} from '../../../src/core/probe.js'
import {SNAPSHOT_SCHEMA_VERSION, type Report, type Snapshot, type TargetSpec} from '../../../src/core/types.js'
import {RedisSession} from '../../../src/drivers/redis.js'
import {redisInfoProbe} from '../../../src/probes/redis/info.js'

export function redisTarget(url: string, name = 'cache', options: Record<string, unknown> = {}): TargetSpec {
  return {name, kind: 'redis', url, options: {scanPauseMs: 0, ...options}}
}

export async function auditRedis(targets: TargetSpec[], opts: {windowSeconds?: number; config?: ChokepointConfig} = {}) {
  return runAudit({config: opts.config ?? {}, targets, windowSeconds: opts.windowSeconds ?? 0, failOn: 'critical'})
}

/**
 * Runs redis.info's baseline, then `traffic`, then its collect, and analyses the resulting one-reading snapshot with
 * the shipped rules: the window holds exactly the traffic the test generated.
 */
export async function infoWithTraffic(url: string, traffic: () => Promise<void>, name = 'cache'): Promise<{report: Report; snapshot: Snapshot}> {
  const target = redisTarget(url, name)
  const session = await RedisSession.open(url, new CommandLog())
  try {
    const ctx = {target, windowSeconds: 1, options: {}, log: () => {}}
    const t0 = Date.now()
    const base = await redisInfoProbe.baseline!(session, ctx)
    await traffic()
    const out = await redisInfoProbe.collect(session, ctx, base)
    const snapshot: Snapshot = {
      schemaVersion: SNAPSHOT_SCHEMA_VERSION,
      tool: {name: 'chokepoint', version: 'test'},
      capturedAt: new Date(t0).toISOString(),
      windowSeconds: 1,
      targets: [{name, kind: 'redis', url, status: 'ok'}],
      readings: [{target: name, probe: 'redis.info', takenAt: new Date().toISOString(), durationMs: Date.now() - t0, status: 'ok', data: out.data, metrics: out.metrics}],
    }
    const report = await analyseSnapshot(snapshot, {failOn: 'critical', source: 'snapshot'})
    return {report, snapshot}
  } finally {
    await session.close()
  }
}

export async function client(url: string): Promise<Redis> {
  const c = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 1})
  c.on('error', () => {})
  await c.connect()
  return c
}

export function readingOf(snapshot: Snapshot, probe: string, target?: string) {
  const r = snapshot.readings.find((x) => x.probe === probe && (!target || x.target === target))
  if (!r) throw new Error(`no reading ${probe}; have ${snapshot.readings.map((x) => `${x.target}/${x.probe}`).join(', ')}`)
  return r
}

export function findingsOf(report: Report, rule: string) {
  return report.findings.filter((f) => f.rule === rule)
}
