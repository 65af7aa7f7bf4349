/**
 * A fleet through the capture, with a target kind a test plugin defines: its driver counts the connections open at
 * once, so the bound of --concurrency is observed where it matters (connections), and a target that never answers
 * its connect shows that a queued target's budget starts with its turn.
 */
import {describe, expect, it} from 'vitest'
import {builtinRegistry} from '../../../src/builtin.js'
import {newSecrets} from '../../../src/cli/context.js'
import {runAudit} from '../../../src/core/audit.js'
import {CaptureSession, captureSnapshot} from '../../../src/core/capture.js'
import {CONNECTED_NOT_READ, WatchLoop, type WatchAudit} from '../../../src/core/watch.js'
import {definePlugin} from '../../../src/core/plugin.js'
import {sleep, type Driver, type Probe} from '../../../src/core/probe.js'
import type {TargetSpec} from '../../../src/core/types.js'

interface Counters {open: number; peak: number; connects: number; busy?: number; busyPeak?: number}
interface Conn {name: string}

/** `fleet://` targets: connect takes 5 ms (forever for a host "dead"), the probe's collect `collectMs` (url's port). */
function fleetPlugin(counters: Counters) {
  const driver: Driver<Conn> = {
    kind: 'fleet',
    async connect(target, _log, _secrets, opts) {
      counters.connects++
      const url = new URL(target.url)
      if (url.hostname === 'dead') {
        await new Promise((_, reject) => opts?.signal?.addEventListener('abort', () => reject(new Error('aborted'))))
      }
      await sleep(5)
      counters.open++
      counters.peak = Math.max(counters.peak, counters.open)
      return {conn: {name: target.name}, facts: {}}
    },
    async close() {
      counters.open--
    },
    abort() {
      counters.open--
    },
  }
  const probe: Probe<Conn> = {
    id: 'fleet.read', kind: 'fleet', description: 'one read',
    async collect(_conn, ctx) {
      counters.busy = (counters.busy ?? 0) + 1
      counters.busyPeak = Math.max(counters.busyPeak ?? 0, counters.busy)
      await sleep(Number(new URL(ctx.target.url).port || 20))
      counters.busy--
      return {metrics: [{name: 'fleet.value', value: 1}]}
    },
  }
  return definePlugin({
    name: 'fleet-test',
    targetKinds: [{kind: 'fleet', title: 'Fleet', summary: 'a test fleet member', schemes: ['fleet:'], example: 'fleet://host',
      options: {targetTimeoutMs: {type: 'number', description: 'budget'}},
      probeMetrics: {'fleet.read': ['fleet.value']}, driver: async () => driver, probes: async () => [probe]}],
  })
}

const members = (n: number, extra: Partial<TargetSpec> = {}, url = 'fleet://host:20'): TargetSpec[] =>
  Array.from({length: n}, (_, i) => ({name: `m-${i}`, kind: 'fleet', url, ...extra}))

describe('a fleet capture', () => {
  it('never holds more connections than the concurrency, and reads every target', async () => {
    const counters: Counters = {open: 0, peak: 0, connects: 0}
    const snapshot = await captureSnapshot(members(24), {registry: builtinRegistry(fleetPlugin(counters)), secrets: newSecrets(), windowSeconds: 0, concurrency: 3})
    expect(counters.peak).toBe(3)
    expect(counters.open).toBe(0)
    expect(snapshot.readings.filter((r) => r.status === 'ok')).toHaveLength(24)
  })

  it('in an audit of more targets than the concurrency too', async () => {
    const counters: Counters = {open: 0, peak: 0, connects: 0}
    const {report} = await runAudit({registry: builtinRegistry(fleetPlugin(counters)), secrets: newSecrets(), targets: members(12), windowSeconds: 0, failOn: 'never', concurrency: 4})
    expect(counters.peak).toBe(4)
    expect(report.targets.every((t) => t.status === 'ok')).toBe(true)
    expect(report.fleet).toMatchObject({targets: 12, ok: 12, failing: 0, skipped: 0})
  })

  it('keeps every connection for the advisors when the fleet fits the concurrency', async () => {
    const counters: Counters = {open: 0, peak: 0, connects: 0}
    const session = new CaptureSession(members(4), {registry: builtinRegistry(fleetPlugin(counters)), secrets: newSecrets(), windowSeconds: 0, concurrency: 4})
    await session.sample()
    expect(session.live().size).toBe(4)
    await session.close()
    expect(counters.open).toBe(0)
  })

  it('starts a queued target\'s budget with its turn: waiting behind others never stalls it', async () => {
    const counters: Counters = {open: 0, peak: 0, connects: 0}
    // One at a time, each taking 150 ms against a budget of 400 ms: the last starts about 1.2 s after the capture.
    const snapshot = await captureSnapshot(members(8, {options: {targetTimeoutMs: 400}}, 'fleet://host:150'),
      {registry: builtinRegistry(fleetPlugin(counters)), secrets: newSecrets(), windowSeconds: 0, concurrency: 1})
    expect(snapshot.readings.map((r) => `${r.target} ${r.status} ${r.reason ?? ''}`.trim())).toEqual(Array.from({length: 8}, (_, i) => `m-${i} ok`))
  })

  it('gives up on a dead target at its budget while the others are read meanwhile', async () => {
    const counters: Counters = {open: 0, peak: 0, connects: 0}
    const targets = [{name: 'dead', kind: 'fleet', url: 'fleet://dead', options: {targetTimeoutMs: 500}}, ...members(6)]
    const started = performance.now()
    const snapshot = await captureSnapshot(targets, {registry: builtinRegistry(fleetPlugin(counters)), secrets: newSecrets(), windowSeconds: 0, concurrency: 2})
    const elapsed = performance.now() - started
    expect(snapshot.targets[0]).toMatchObject({name: 'dead', status: 'error'})
    expect(snapshot.targets[0].error).toMatch(/stalled in connect: no answer within the target's budget of 0.5 s/)
    expect(snapshot.readings.filter((r) => r.status === 'ok')).toHaveLength(6)
    // The dead one held one slot for its budget; the other six went through the second slot alongside it.
    expect(elapsed).toBeLessThan(500 + 400)
  })

  it('in watch mode keeps every connection but collects at most `concurrency` targets at once', async () => {
    const counters: Counters = {open: 0, peak: 0, connects: 0}
    const loop = new WatchLoop({registry: builtinRegistry(fleetPlugin(counters)), secrets: newSecrets(), config: {}, targets: members(6),
      intervalSeconds: 1, failOn: 'never', concurrency: 2})
    let rounds = 0
    const done = new Promise<void>((resolve) => void loop.start(() => {
      if (++rounds === 2) resolve()
    }))
    await done
    await loop.stop()
    // The second round collected all six on their kept connections, two at a time.
    expect(counters.peak).toBe(6)
    expect(counters.busyPeak).toBe(2)
    expect(counters.open).toBe(0)
  }, 20_000)

  it('in watch mode lists targets connected this round as not read yet, then as read', async () => {
    const counters: Counters = {open: 0, peak: 0, connects: 0}
    const loop = new WatchLoop({registry: builtinRegistry(fleetPlugin(counters)), secrets: newSecrets(), config: {}, targets: members(2),
      intervalSeconds: 1, failOn: 'never'})
    const audits: WatchAudit[] = []
    await new Promise<void>((resolve) => void loop.start((audit) => {
      if (audits.push(audit) === 2) resolve()
    }))
    await loop.stop()
    const statuses = (audit: WatchAudit) => audit.report.targets.map((t) => [t.name, t.status, t.error])
    expect(statuses(audits[0])).toEqual(members(2).map((m) => [m.name, 'skipped', CONNECTED_NOT_READ]))
    expect(audits[0].report.gate.incomplete).toBe(true)
    expect(statuses(audits[1])).toEqual(members(2).map((m) => [m.name, 'ok', undefined]))
  }, 20_000)
})
