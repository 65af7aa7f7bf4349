/**
 * The span tree OtelInstrumentation builds from the core's events, exported to memory by the SDK's own span
 * processor: through a real capture (a test plugin's target kind, so no server is needed) and event by event.
 */
import {SpanKind} from '@opentelemetry/api'
import {tracing} from '@opentelemetry/sdk-node'
import {afterEach, beforeAll, describe, expect, it} from 'vitest'
import {builtinRegistry} from '../../../src/builtin.js'
import {newSecrets} from '../../../src/cli/context.js'
import {captureSnapshot} from '../../../src/core/capture.js'
import {definePlugin} from '../../../src/core/plugin.js'
import type {CommandLog, Driver, Probe} from '../../../src/core/probe.js'
import {OtelInstrumentation} from '../../../src/telemetry/otel-instrumentation.js'
import {loadSqlNormaliser, normaliseSql} from '../../../src/telemetry/sql.js'


beforeAll(() => loadSqlNormaliser())
const exporter = new tracing.InMemorySpanExporter()
const provider = new tracing.BasicTracerProvider({spanProcessors: [new tracing.SimpleSpanProcessor(exporter)]})
const tracer = provider.getTracer('test')

afterEach(() => exporter.reset())

type Finished = ReturnType<typeof exporter.getFinishedSpans>[number]
const parentOf = (s: Finished) => s.parentSpanContext?.spanId
const named = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name)!
const childrenOf = (s: Finished) => exporter.getFinishedSpans().filter((c) => parentOf(c) === s.spanContext().spanId).map((c) => c.name)
const ms = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6

function counterPlugin(fail: {connect?: boolean} = {}) {
  const driver: Driver<CommandLog> = {
    kind: 'counter',
    async connect(target, log, secrets) {
      secrets?.register(String(target.options?.token ?? ''))
      await log.run('HELLO', async () => undefined)
      if (fail.connect) throw new Error(`refused token ${String(target.options?.token)}`)
      return {conn: log, facts: {}}
    },
    async close() {},
  }
  const probe: Probe<CommandLog> = {
    id: 'counter.rate', kind: 'counter', description: 'increments per sample',
    baseline: (log) => log.run('READ counter', async () => 1),
    async collect(log) {
      await log.run('READ counter', async () => 2)
      return {metrics: [{name: 'counter.delta', value: 1}]}
    },
  }
  return definePlugin({
    name: 'counter-test',
    targetKinds: [{kind: 'counter', title: 'Counter', summary: 'a test counter', schemes: ['counter:'], example: 'counter://x', options: {token: {type: 'string', description: 'a secret'}},
      probeMetrics: {'counter.rate': ['counter.delta']}, driver: async () => driver, probes: async () => [probe]}],
  })
}

describe('OtelInstrumentation', () => {
  it('nests a capture as audit > target > connect, baseline and probe > client spans, each target ended at its last child', async () => {
    const secrets = newSecrets()
    const instrumentation = new OtelInstrumentation(tracer, {command: 'capture', secrets, normalise: normaliseSql})
    await captureSnapshot([{name: 'c1', kind: 'counter', url: 'counter://x', options: {token: 'tok-123'}}],
      {registry: builtinRegistry(counterPlugin()), secrets, windowSeconds: 0.05, instrumentation})
    const root = named('chokepoint capture')
    expect(parentOf(root)).toBeUndefined()
    expect(root.attributes).toMatchObject({'chokepoint.command': 'capture', 'chokepoint.targets': 1})
    const target = named('target c1')
    expect(parentOf(target)).toBe(root.spanContext().spanId)
    expect(childrenOf(target).sort()).toEqual(['baseline counter.rate', 'connect', 'probe counter.rate'])
    expect(childrenOf(named('connect'))).toEqual(['counter'])
    expect(childrenOf(named('baseline counter.rate'))).toEqual(['counter'])
    expect(childrenOf(named('probe counter.rate'))).toEqual(['counter'])
    const clients = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT)
    expect(clients).toHaveLength(3)
    expect(clients.map((c) => c.attributes['chokepoint.probe.id']).sort()).toEqual(['connect', 'counter.rate', 'counter.rate'])
    // The target's span ends with the last thing done on it (the collect), not with the audit's bookkeeping.
    expect(ms(target.endTime)).toBeCloseTo(ms(named('probe counter.rate').endTime), 0)
    expect(ms(target.endTime)).toBeLessThanOrEqual(ms(root.endTime))
    // The sampling window lies between the baseline and the probe's collect.
    expect(ms(named('probe counter.rate').startTime) - ms(named('baseline counter.rate').endTime)).toBeGreaterThanOrEqual(45)
  })

  it('marks a target whose connect failed, with the reason scrubbed of the run\'s secrets', async () => {
    const secrets = newSecrets()
    const instrumentation = new OtelInstrumentation(tracer, {command: 'audit', secrets, normalise: normaliseSql})
    await captureSnapshot([{name: 'c1', kind: 'counter', url: 'counter://x', options: {token: 'tok-456'}}],
      {registry: builtinRegistry(counterPlugin({connect: true})), secrets, windowSeconds: 0, instrumentation})
    for (const name of ['connect', 'target c1']) {
      expect(named(name).status.code).toBe(2)
      expect(named(name).status.message).toMatch(/could not connect: refused token/)
    }
    expect(JSON.stringify(exporter.getFinishedSpans().map((s) => [s.attributes, s.status]))).not.toContain('tok-456')
  })

  it('drops events outside an audit, and puts a stack-wide advisor under the audit itself', () => {
    const instrumentation = new OtelInstrumentation(tracer, {command: 'watch', secrets: newSecrets(), normalise: normaliseSql})
    instrumentation.command({target: 't', probe: 'p', text: 'X', roundTrips: 1})
    instrumentation.probeStart({target: 't', probe: 'p'})
    expect(exporter.getFinishedSpans()).toHaveLength(0)
    instrumentation.auditStart({targets: ['t']})
    instrumentation.advisorStart({advisor: 'workers'})
    instrumentation.advisorEnd({advisor: 'workers', durationMs: 1, findings: 2})
    instrumentation.auditEnd({durationMs: 2})
    instrumentation.auditStart({targets: ['t']})
    instrumentation.auditEnd({durationMs: 1})
    const rounds = exporter.getFinishedSpans().filter((s) => s.name === 'chokepoint watch')
    expect(rounds.map((r) => r.attributes['chokepoint.watch.round'])).toEqual([1, 2])
    const advisor = named('advisor workers')
    expect(parentOf(advisor)).toBe(rounds[0].spanContext().spanId)
    expect(advisor.attributes['chokepoint.advisor.findings']).toBe(2)
  })

  it('gives a failed command error.type and an error status without its message', () => {
    const instrumentation = new OtelInstrumentation(tracer, {command: 'audit', secrets: newSecrets(), normalise: normaliseSql})
    instrumentation.auditStart({targets: ['db']})
    instrumentation.connectStart({target: 'db', kind: 'postgres', url: 'postgres://db:5432/shop'})
    instrumentation.connectEnd({target: 'db', kind: 'postgres', url: 'postgres://db:5432/shop', durationMs: 1, facts: {database: 'shop'}})
    instrumentation.probeStart({target: 'db', probe: 'postgres.tables'})
    instrumentation.command({target: 'db', probe: 'postgres.tables', text: "SELECT * FROM t WHERE x = 'v'", query: "SELECT * FROM t WHERE x = 'v'", roundTrips: 1,
      durationMs: 3, error: 'relation "t" does not exist', errorType: '42P01'})
    instrumentation.probeEnd({target: 'db', probe: 'postgres.tables', durationMs: 4, status: 'skipped', error: 'no such table'})
    instrumentation.auditEnd({durationMs: 5})
    const client = named('SELECT shop')
    expect(client.attributes).toMatchObject({'db.query.text': 'SELECT * FROM t WHERE x = $1', 'error.type': '42P01', 'db.namespace': 'shop', 'server.port': 5432})
    expect(client.status).toEqual({code: 2, message: '42P01'})
    expect(parentOf(client)).toBe(named('probe postgres.tables').spanContext().spanId)
    expect(ms(client.endTime) - ms(client.startTime)).toBeCloseTo(3, 0)
    // A probe that does not apply is no failure.
    expect(named('probe postgres.tables').status.code).toBe(0)
    expect(named('probe postgres.tables').attributes['chokepoint.probe.status']).toBe('skipped')
  })
})
