import {describe, expect, it} from 'vitest'
import {buildReport, gatePasses} from '../../../src/core/audit.js'
import {validateConfig} from '../../../src/core/config.js'
import {acceptAdvisorFindings, classify, evaluateMetric, evaluateSnapshot, findingId, lookbackText} from '../../../src/core/engine.js'
import {compileRule, parseRule} from '../../../src/core/rules.js'
import type {Finding, Snapshot} from '../../../src/core/types.js'
import {evaluation, registry} from '../../helpers/context.js'

const rule = (id: string) => compileRule(registry.rules().find((r) => r.id === id)!, {})

function snapshotWith(metrics: Snapshot['readings'][number]['metrics'], status: 'ok' | 'error' = 'ok'): Snapshot {
  return {
    schemaVersion: 1, tool: {name: 'chokepoint', version: 't'}, capturedAt: new Date().toISOString(), windowSeconds: 0,
    targets: [{name: 'db', kind: 'postgres', url: 'postgres://db', status: 'ok'}],
    readings: [{target: 'db', probe: 'postgres.test', takenAt: new Date().toISOString(), durationMs: 1, status, metrics}],
  }
}

describe('classification', () => {
  it('bands a value: ok inside the target, warning between, critical past the action', () => {
    const lag = rule('replication/lag')
    expect(classify(lag, 0.5)).toBe('ok')
    expect(classify(lag, 5)).toBe('warning')
    expect(classify(lag, 5.01)).toBe('critical')
    expect(classify(lag, null)).toBe('ok')
  })

  it('lets a fixed severity replace the band, and `when` conditions gate the rule', () => {
    const capped = compileRule(registry.rules().find((r) => r.id === 'queue/depth')!, {severity: 'info'})
    expect(classify(capped, 5000)).toBe('info')
    const conditional = compileRule(registry.rules().find((r) => r.id === 'queue/depth')!, {when: {consumers: '== 0'}})
    expect(classify(conditional, 5000, {consumers: 0})).toBe('critical')
    expect(classify(conditional, 5000, {consumers: 3})).toBe('ok')
    expect(classify(conditional, 5000, {})).toBe('ok')
  })
})

describe('sustained rules', () => {
  it('compare the action threshold with the level held through the lookback: the lowest for "> x", the highest for "< x"', () => {
    const cpu = rule('resources/cpu')
    expect(classify(cpu, 0.9, {lookback: {min: 0.85}})).toBe('critical')
    expect(classify(cpu, 0.9, {lookback: {min: 0.5}})).toBe('warning')
    // Without the held level (an old snapshot), the value itself.
    expect(classify(cpu, 0.9)).toBe('critical')
    const hit = compileRule(registry.rules().find((r) => r.id === 'cache/hit-rate')!, {lookback: '5m', sustained: true})
    expect(classify(hit, 0.6, {lookback: {max: 0.65}})).toBe('critical')
    expect(classify(hit, 0.6, {lookback: {max: 0.95}})).toBe('warning')
    expect(lookbackText(hit, {lookback: {over: 'over 5 min', max: 0.65}})).toBe('over 5 min, never above 65%')
  })

  it('say in the message what the value covers, or that the snapshot did not record it', () => {
    const cpu = rule('resources/cpu')
    const finding = evaluateMetric(cpu, 'prom', {name: 'host.cpu.utilization', subject: 'web-1', value: 0.93,
      evidence: {lookback: {over: 'over the 40 s Prometheus has of the 5 min lookback', min: 0.9}}})
    expect(finding?.message).toBe('CPU of web-1 averaged 93% over the 40 s Prometheus has of the 5 min lookback, never below 90% (target <= 70%, act > 80% sustained)')
    expect(lookbackText(cpu, {})).toBe('over a period the snapshot does not record')
  })
})

describe('evaluation', () => {
  it('raises one finding per breaching subject, with rendered remedies and a stable id', () => {
    const snapshot = snapshotWith([
      {name: 'pool.utilization', value: 0.95, subject: 'max_connections', evidence: {idle: 80, idleInTransaction: 0}},
      {name: 'pool.utilization', value: 0.5, subject: 'pgbouncer app/app'},
      {name: 'unrelated.metric', value: 1e9},
    ])
    const findings = evaluateSnapshot(snapshot, evaluation())
    expect(findings).toHaveLength(1)
    const [f] = findings
    expect(f).toMatchObject({rule: 'pool/utilization', severity: 'critical', area: 'pool', subject: 'max_connections', value: 0.95})
    expect(f.id).toBe(findingId('pool/utilization', 'db', 'max_connections'))
    expect(f.message).toBe('max_connections is 95% used (target 60-80%, act > 90%)')
    // The idle-connections remedy applies (idle >= 1); the idle-in-transaction one does not (0 sessions).
    expect(f.remedies.map((r) => r.kind)).toEqual(['pool-size'])
    expect(f.remedies[0].summary).toMatch(/^80 of the used connections are idle/)
  })

  it('includes a remedy by its own `when`, even where the rule has a condition on the same field', () => {
    const rule = compileRule(parseRule({
      id: 'queue/test-rule', area: 'queue', title: 't', description: 'a test rule', metric: 'test.metric', action: '> 0',
      when: {backlog: '>= 10'}, message: 'm', docs: 'docs for a rule that exists only in this test',
      remedies: [{kind: 'workers', summary: 'only for a large backlog', when: {backlog: '>= 100'}}, {kind: 'config', summary: 'always'}],
    }, 'test.yaml'), {})
    const finding = evaluateMetric(rule, 'db', {name: 'test.metric', value: 1, evidence: {backlog: 50}})
    expect(finding?.severity).toBe('critical')
    expect(finding?.remedies.map((r) => r.summary)).toEqual(['always'])
    expect(evaluateMetric(rule, 'db', {name: 'test.metric', value: 1, evidence: {backlog: 500}})?.remedies).toHaveLength(2)
  })

  it('skips disabled rules and honours per-target overrides', () => {
    const snapshot = snapshotWith([{name: 'queue.depth', value: 5000, subject: 'emails'}])
    const off = validateConfig({rules: {'queue/depth': 'off'}}, registry)
    expect(evaluateSnapshot(snapshot, evaluation(off))).toHaveLength(0)
    const relaxed = validateConfig({overrides: [{targets: ['d?'], rules: {'queue/depth': {target: '< 10000', action: '> 20000'}}}]}, registry)
    expect(evaluateSnapshot(snapshot, evaluation(relaxed))).toHaveLength(0)
  })

  it('rejects advisor findings under unknown rules and applies severity overrides to known ones', () => {
    const rulesFor = evaluation(validateConfig({rules: {'replication/lag': 'warning'}}, registry))
    const base = {target: 'db', subject: 's', metric: 'm', value: 1, message: 'x', evidence: {}, remedies: []}
    expect(() => acceptAdvisorFindings([{...base, rule: 'nope/nope', severity: 'critical'}], rulesFor)).toThrow(/unknown rule nope\/nope/)
    const [accepted] = acceptAdvisorFindings([{...base, rule: 'replication/lag', severity: 'critical'}], rulesFor)
    expect(accepted.severity).toBe('warning')
    expect(accepted.area).toBe('replication')
  })
})

describe('gate and exit codes', () => {
  const finding = (severity: Finding['severity']) => ({severity}) as Finding
  it('fails at or above --fail-on only', () => {
    expect(gatePasses([finding('warning')], 'critical')).toBe(true)
    expect(gatePasses([finding('warning')], 'warning')).toBe(false)
    expect(gatePasses([finding('info')], 'warning')).toBe(true)
    expect(gatePasses([finding('critical')], 'never')).toBe(true)
  })

  it('exits 1 for a failed gate even when incomplete, 3 when only incomplete, 0 otherwise', () => {
    const incomplete = snapshotWith([], 'error')
    expect(buildReport(incomplete, [finding('critical')], [{target: 'db', probe: 'p', status: 'error', reason: 'r'}], 'critical', 'live').gate.exitCode).toBe(1)
    expect(buildReport(incomplete, [], [{target: 'db', probe: 'p', status: 'error', reason: 'r'}], 'critical', 'live').gate.exitCode).toBe(3)
    expect(buildReport(incomplete, [], [{target: 'db', probe: 'p', status: 'skipped', reason: 'no extension'}], 'critical', 'live').gate.exitCode).toBe(0)
  })
})

describe('remedies by target kind', () => {
  it('a shared rule gives each kind only the remedies written for it (kinds:), and those for every kind', () => {
    const metric = {name: 'db.idle_in_transaction.seconds', subject: 'thread 7', value: 600, evidence: {pid: 7, thread: 7, usename: 'app', datname: 'shop', application_name: 'web', query: 'x',
      backendStart: '2026-01-01T00:00:00Z', xactStart: '2026-01-01T00:00:01Z'}}
    const on = (kind: string) => {
      const snapshot = snapshotWith([metric])
      snapshot.targets[0].kind = kind
      return evaluateSnapshot(snapshot, evaluation()).find((f) => f.rule === 'database/idle-in-transaction')!.remedies.map((r) => r.sql).filter(Boolean)
    }
    expect(on('mysql')).toEqual(['KILL 7'])
    expect(on('postgres')).toEqual([expect.stringMatching(/^ALTER ROLE "app" SET idle_in_transaction_session_timeout/), expect.stringMatching(/^SELECT pg_terminate_backend/)])
  })
})
