/**
 * A fleet against the real PostgreSQL of the test environment: an unreachable target (a closed port) and a stalled
 * one (a fault proxy that accepts and never answers) cost the audit no more than their budget, and the rest of the
 * fleet is read and reported; and --concurrency bounds the connections the server sees (pg_stat_activity, polled).
 */
import {afterEach, describe, expect, it} from 'vitest'
import {runAudit} from '../../../src/index.js'
import type {TargetSpec} from '../../../src/core/types.js'
import {startFaultProxy, type FaultProxy} from '../../helpers/fault-proxy.js'
import {adminQuery, PRIMARY_PORT, PRIMARY_URL, withTempDatabase} from '../../helpers/pg.js'
import {freePort} from '../../helpers/process.js'

let proxy: FaultProxy | undefined
afterEach(async () => {
  await proxy?.close()
  proxy = undefined
})

const BUDGET_MS = 3000

describe('a fleet with a dead and a stalled target', () => {
  it('finishes within the per-target budget and reports the rest', async () => {
    proxy = await startFaultProxy({port: PRIMARY_PORT})
    proxy.stall()
    const closed = await freePort()
    const options = {targetTimeoutMs: BUDGET_MS}
    const targets: TargetSpec[] = [
      {name: 'stalled', kind: 'postgres', url: proxy.url(PRIMARY_URL), group: 'broken', options},
      {name: 'closed', kind: 'postgres', url: `postgres://postgres@127.0.0.1:${closed}/postgres`, group: 'broken', options},
      ...['a', 'b', 'c', 'd'].map((n): TargetSpec => ({name: `healthy-${n}`, kind: 'postgres', url: PRIMARY_URL, group: 'healthy', options})),
    ]
    // The same healthy targets alone, for what the broken ones add (after one audit that loads the modules).
    await runAudit({targets: targets.slice(2, 3), windowSeconds: 0, failOn: 'never'})
    const alone = performance.now()
    await runAudit({targets: targets.slice(2), windowSeconds: 0, failOn: 'never', concurrency: 2})
    const healthyMs = performance.now() - alone
    const started = performance.now()
    const {report} = await runAudit({targets, windowSeconds: 0, failOn: 'never', concurrency: 2})
    const elapsed = performance.now() - started
    process.stderr.write(`[fleet] 6 targets, 2 broken, concurrency 2: ${(elapsed / 1000).toFixed(1)} s; the 4 healthy alone ${(healthyMs / 1000).toFixed(1)} s\n`)
    // The stalled target holds one slot for its budget while the healthy ones go through the other: at most one
    // budget more than the healthy alone (with a slot less), never one budget per broken target in turn.
    expect(elapsed - healthyMs).toBeLessThan(BUDGET_MS + 2500)
    expect(elapsed).toBeGreaterThanOrEqual(BUDGET_MS)
    const status = Object.fromEntries(report.targets.map((t) => [t.name, t.status]))
    expect(status).toEqual({'stalled': 'error', 'closed': 'error', 'healthy-a': 'ok', 'healthy-b': 'ok', 'healthy-c': 'ok', 'healthy-d': 'ok'})
    expect(report.targets[0].error).toMatch(/stalled in connect: no answer within the target's budget of 3 s/)
    expect(report.targets[1].error).toMatch(/could not connect: .*ECONNREFUSED|could not connect: .*refused/i)
    expect(proxy.accepted).toBeGreaterThan(0)
    expect(report.fleet).toMatchObject({targets: 6, ok: 4, failing: 0, skipped: 2})
    expect(report.fleet!.groups.find((g) => g.group === 'broken')).toMatchObject({skipped: 2, skippedTargets: ['stalled', 'closed']})
    expect(report.targets.filter((t) => t.group === 'healthy')).toHaveLength(4)
    expect(report.gate).toMatchObject({incomplete: true, exitCode: 3})
  }, 60_000)
})

describe('--concurrency', () => {
  it('bounds the connections the server sees', async () => {
    await withTempDatabase('fleet_concurrency', async (url) => {
      const database = new URL(url).pathname.slice(1)
      const targets = Array.from({length: 6}, (_, i): TargetSpec => ({name: `db-${i}`, kind: 'postgres', url}))
      let peak = 0
      let polling = true
      const poll = (async () => {
        while (polling) {
          const [row] = await adminQuery<{n: string}>(PRIMARY_URL, "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'chokepoint'", [database])
          peak = Math.max(peak, Number(row.n))
          await new Promise((r) => setTimeout(r, 20))
        }
      })()
      try {
        const {report} = await runAudit({targets, windowSeconds: 1, failOn: 'never', concurrency: 2})
        expect(report.targets.every((t) => t.status === 'ok')).toBe(true)
      } finally {
        polling = false
        await poll
      }
      process.stderr.write(`[fleet] peak connections at concurrency 2: ${peak}\n`)
      // Each holds its connection through a 1 s window, so two at once are seen, and never a third.
      expect(peak).toBe(2)
    })
  }, 60_000)
})
