/**
 * The capture session through the plugin route, with a target kind a test plugin defines: a counter held in this
 * process stands in for a server's cumulative statistics, so the windows and baselines can be checked exactly.
 */
import {describe, expect, it} from 'vitest'
import {builtinRegistry} from '../../../src/builtin.js'
import {newSecrets} from '../../../src/cli/context.js'
import {rulesByTarget} from '../../../src/core/audit.js'
import {CaptureSession, captureSnapshot} from '../../../src/core/capture.js'
import {validateConfig} from '../../../src/core/config.js'
import type {CommandEvent, Instrumentation} from '../../../src/core/instrumentation.js'
import {definePlugin} from '../../../src/core/plugin.js'
import type {CommandLog, Driver, Probe, ProbeContext} from '../../../src/core/probe.js'

interface Counter {log: CommandLog; value: number; reads: number; closed: boolean}

function counterPlugin(counters: Counter[], {handsOverBaseline}: {handsOverBaseline: boolean}) {
  const read = async (c: Counter) => c.log.run('READ counter', async () => {
    c.reads++
    return c.value
  })
  const driver: Driver<Counter> = {
    kind: 'counter',
    async connect(target, log, secrets) {
      secrets?.register(String(target.options?.token ?? ''))
      const c: Counter = {log, value: 0, reads: 0, closed: false}
      counters.push(c)
      return {conn: c, facts: {}}
    },
    async close(c) {
      c.closed = true
    },
  }
  const probe: Probe<Counter> = {
    id: 'counter.rate', kind: 'counter', description: 'increments per sample',
    baseline: (c) => read(c),
    async collect(c, _ctx, baseline) {
      const now = await read(c)
      return {metrics: [{name: 'counter.delta', value: now - Number(baseline ?? 0)}], ...(handsOverBaseline ? {nextBaseline: now} : {})}
    },
  }
  return definePlugin({
    name: 'counter-test',
    targetKinds: [{kind: 'counter', title: 'Counter', summary: 'a test counter', schemes: ['counter:'], example: 'counter://x', options: {token: {type: 'string', description: 'a secret'}},
      probeMetrics: {'counter.rate': ['counter.delta']}, driver: async () => driver, probes: async () => [probe]}],
  })
}

describe('a capture session', () => {
  it('keeps its connection across samples and takes the previous collect as the next baseline', async () => {
    const counters: Counter[] = []
    const events: CommandEvent[] = []
    const instrumentation: Instrumentation = {command: (e) => events.push(e)}
    const session = new CaptureSession([{name: 'c1', kind: 'counter', url: 'counter://x', options: {token: 'sekret-token'}}],
      {registry: builtinRegistry(counterPlugin(counters, {handsOverBaseline: true})), secrets: newSecrets(), windowSeconds: 0.05, instrumentation})
    try {
      const first = await session.sample()
      expect(first.readings[0]).toMatchObject({probe: 'counter.rate', status: 'ok', metrics: [{value: 0}]})
      counters[0].value = 7
      const second = await session.sample()
      expect(second.readings[0].metrics[0].value).toBe(7)
      expect(counters).toHaveLength(1)
      // baseline + collect, then one collect: the second window's baseline was the first collect.
      expect(counters[0].reads).toBe(3)
      expect(events.map((e) => [e.target, e.probe, e.text])).toEqual(Array(3).fill(['c1', 'counter.rate', 'READ counter']))
      expect(events.every((e) => typeof e.durationMs === 'number')).toBe(true)
      expect(session.overheadEntries()).toEqual([{target: 'c1', roundTrips: 3, commands: [{probe: 'counter.rate', text: 'READ counter', count: 3}]}])
    } finally {
      await session.close()
    }
    expect(counters[0].closed).toBe(true)
  })

  it('reads a baseline right after the collect for probes that hand none over, and records failed commands', async () => {
    const counters: Counter[] = []
    const session = new CaptureSession([{name: 'c1', kind: 'counter', url: 'counter://x'}],
      {registry: builtinRegistry(counterPlugin(counters, {handsOverBaseline: false})), secrets: newSecrets(), windowSeconds: 0.05})
    try {
      await session.sample()
      await session.carryBaselines()
      counters[0].value = 3
      expect((await session.sample()).readings[0].metrics[0].value).toBe(3)
      expect(counters[0].reads).toBe(4)
    } finally {
      await session.close()
    }
    const events: CommandEvent[] = []
    const {CommandLog} = await import('../../../src/core/probe.js')
    const log = new CommandLog('t', {command: (e) => events.push(e)})
    await expect(log.run('SELECT 1', async () => { throw new Error('boom\nsecond line') })).rejects.toThrow('boom')
    expect(events).toEqual([expect.objectContaining({target: 't', text: 'SELECT 1', error: 'boom', roundTrips: 1})])
  })

  it('reports a kind no plugin defines as skipped, and keeps the secrets a driver registers to its own audit', async () => {
    const counters: Counter[] = []
    const secrets = newSecrets()
    const session = new CaptureSession([{name: 'm', kind: 'mongo', url: 'mongodb://x'}, {name: 'c1', kind: 'counter', url: 'counter://x', options: {token: 'sekret-token'}}],
      {registry: builtinRegistry(counterPlugin(counters, {handsOverBaseline: true})), secrets, windowSeconds: 0})
    const snapshot = await session.sample()
    await session.close()
    expect(snapshot.targets[0]).toMatchObject({name: 'm', status: 'skipped', error: 'no plugin defines mongo targets'})
    expect(secrets.scrub('token sekret-token leaked')).toBe('token *** leaked')
    expect(newSecrets().scrub('token sekret-token leaked')).toBe('token sekret-token leaked')
  })
})

describe('the lookbacks a capture hands its probes', () => {
  it("are the rules' lookbacks by metric, as they apply to each target after the config's overrides", async () => {
    const seen = new Map<string, ProbeContext['lookbacks']>()
    const driver: Driver<object> = {kind: 'counter', connect: async () => ({conn: {}, facts: {}}), close: async () => {}}
    const probe: Probe<object> = {id: 'counter.rate', kind: 'counter', description: 'records its context',
      async collect(_c, ctx) {
        seen.set(ctx.target.name, ctx.lookbacks)
        return {metrics: []}
      }}
    const registry = builtinRegistry(definePlugin({name: 'lookback-test', targetKinds: [{kind: 'counter', title: 'Counter', summary: 'test', schemes: ['counter:'],
      example: 'counter://x', options: {}, probeMetrics: {'counter.rate': []}, driver: async () => driver, probes: async () => [probe]}]}))
    const targets = [{name: 'web-1', kind: 'counter', url: 'counter://x'}, {name: 'batch-1', kind: 'counter', url: 'counter://y'}]
    // Without the config: the rule files' lookbacks.
    await captureSnapshot(targets, {registry, secrets: newSecrets(), windowSeconds: 0})
    expect(seen.get('web-1')?.['host.cpu.utilization']).toEqual({seconds: 300, sustained: true, rules: ['resources/cpu'], configured: false})
    expect(seen.get('web-1')?.['http.latency.p95']).toMatchObject({seconds: 300, sustained: false})
    // A rule setting for all targets, and an override for the batch hosts only.
    const config = validateConfig({rules: {'resources/cpu': {lookback: '15m'}}, overrides: [{targets: ['batch-*'], rules: {'resources/cpu': {lookback: '1h', sustained: false}}}]}, registry)
    await captureSnapshot(targets, {registry, secrets: newSecrets(), windowSeconds: 0, rulesFor: rulesByTarget(config, registry)})
    expect(seen.get('web-1')?.['host.cpu.utilization']).toEqual({seconds: 900, sustained: true, rules: ['resources/cpu'], configured: true})
    expect(seen.get('batch-1')?.['host.cpu.utilization']).toEqual({seconds: 3600, sustained: false, rules: ['resources/cpu'], configured: true})
  })
})
