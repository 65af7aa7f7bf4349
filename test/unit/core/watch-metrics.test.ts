import {spawnSync} from 'node:child_process'
import {describe, expect, it} from 'vitest'
import {SecretRegistry} from '../../../src/core/redact.js'
import type {Report} from '../../../src/core/types.js'
import {MAX_VALUE_SUBJECTS_PER_RULE, WatchMetrics} from '../../../src/core/watch-metrics.js'

interface CheckFields {target: string; rule: string; subject: string; status: string; value?: number | null; threshold?: {target: string | null; action: string | null}}

/** The parts of a report the metrics read; the rest does not matter to them. */
function audit(findings: Array<{target: string; rule: string; severity: string}>, checks: CheckFields[]) {
  checks = checks.map((c) => ({value: null, threshold: {target: '< 10s', action: '> 60s'}, ...c}))
  return {report: {findings, checks} as unknown as Report, up: new Map([['db', true], ['cache', false]]), durationMs: 250, finishedAt: 1_700_000_000_000}
}

async function series(metrics: WatchMetrics): Promise<string[]> {
  return (await metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('chokepoint_') && !l.includes('_bucket'))
}

describe('WatchMetrics', () => {
  it('reports the worst status over a rule\'s subjects, whatever their order, and skips checks not evaluated', async () => {
    const metrics = new WatchMetrics()
    metrics.record(audit([], [
      {target: 'db', rule: 'a', subject: 't1', status: 'critical'}, {target: 'db', rule: 'a', subject: 't2', status: 'ok'},
      {target: 'db', rule: 'b', subject: 't1', status: 'ok'}, {target: 'db', rule: 'b', subject: 't2', status: 'warning'},
      {target: 'db', rule: 'c', subject: 'db', status: 'info'}, {target: 'db', rule: 'd', subject: 'db', status: 'not-evaluated'},
    ]))
    const lines = await series(metrics)
    expect(lines).toContain('chokepoint_check_status{target="db",rule="a"} 2')
    expect(lines).toContain('chokepoint_check_status{target="db",rule="b"} 1')
    expect(lines).toContain('chokepoint_check_status{target="db",rule="c"} 0')
    expect(lines.some((l) => l.includes('rule="d"'))).toBe(false)
    expect(lines).toContain('chokepoint_up{target="cache"} 0')
    expect(lines).toContain('chokepoint_last_audit_timestamp_seconds 1700000000')
  })

  it('counts findings per target, rule and severity, and drops the series of findings gone at the next audit', async () => {
    const metrics = new WatchMetrics()
    metrics.record(audit([{target: 'db', rule: 'a', severity: 'warning'}, {target: 'db', rule: 'a', severity: 'warning'}, {target: 'db', rule: 'a', severity: 'critical'}], []))
    expect(await series(metrics)).toEqual(expect.arrayContaining([
      'chokepoint_findings{target="db",rule="a",severity="warning"} 2', 'chokepoint_findings{target="db",rule="a",severity="critical"} 1']))
    metrics.record(audit([{target: 'db', rule: 'a', severity: 'warning'}], []))
    const after = await series(metrics)
    expect(after).toContain('chokepoint_findings{target="db",rule="a",severity="warning"} 1')
    expect(after.some((l) => l.includes('severity="critical"'))).toBe(false)
  })

  describe('chokepoint_metric_value', () => {
    const values = async (metrics: WatchMetrics) => (await series(metrics)).filter((l) => l.startsWith('chokepoint_metric_value{'))

    it('shows the breaching subjects only, critical first and then the highest, at most the cap per rule and target, and counts the rest', async () => {
      const metrics = new WatchMetrics()
      const breaching = Array.from({length: MAX_VALUE_SUBJECTS_PER_RULE + 3}, (_, i) => ({target: 'db', rule: 'a', subject: `table t${i}`, status: 'warning', value: 100 + i}))
      metrics.record(audit([], [
        ...breaching,
        {target: 'db', rule: 'a', subject: 'table low-but-critical', status: 'critical', value: 99},
        {target: 'db', rule: 'a', subject: 'table fine', status: 'ok', value: 1},
        {target: 'db', rule: 'b', subject: 'table noted', status: 'info', value: 5},
        {target: 'cache', rule: 'a', subject: 'user:*', status: 'warning', value: 70},
      ]))
      const lines = await values(metrics)
      const dbA = lines.filter((l) => l.includes('target="db",rule="a"'))
      expect(dbA).toHaveLength(MAX_VALUE_SUBJECTS_PER_RULE)
      expect(dbA[0]).toBe('chokepoint_metric_value{target="db",rule="a",subject="table low-but-critical"} 99')
      expect(dbA).toContain('chokepoint_metric_value{target="db",rule="a",subject="table t12"} 112')
      // The lowest warnings are the ones left out: t0 to t3 (four: the critical one took a place).
      expect(dbA.some((l) => /subject="table t[0-3]"/.test(l))).toBe(false)
      expect(lines.some((l) => l.includes('table fine') || l.includes('table noted'))).toBe(false)
      expect(lines).toContain('chokepoint_metric_value{target="cache",rule="a",subject="user:*"} 70')
      const all = await series(metrics)
      expect(all).toContain('chokepoint_metric_value_omitted_subjects{target="db",rule="a"} 4')
      expect(all).toContain('chokepoint_metric_value_omitted_subjects{target="cache",rule="a"} 0')
    })

    it('keeps the lowest first for a rule that breaches downwards', async () => {
      const metrics = new WatchMetrics()
      const ratio = (subject: string, value: number) => ({target: 'db', rule: 'hit', subject, status: 'warning', value, threshold: {target: '> 0.99', action: '< 0.9'}})
      const bandOnly = (subject: string, value: number) => ({target: 'db', rule: 'band', subject, status: 'warning', value, threshold: {target: '> 0.99', action: null}})
      metrics.record(audit([], [
        ...Array.from({length: MAX_VALUE_SUBJECTS_PER_RULE + 1}, (_, i) => ratio(`table t${i}`, 0.95 - i / 100)),
        ...Array.from({length: MAX_VALUE_SUBJECTS_PER_RULE + 1}, (_, i) => bandOnly(`table t${i}`, 0.95 - i / 100)),
      ]))
      const lines = await values(metrics)
      expect(lines.some((l) => l.includes('subject="table t0"'))).toBe(false)
      expect(lines.filter((l) => l.includes(`subject="table t${MAX_VALUE_SUBJECTS_PER_RULE}"`))).toHaveLength(2)
    })

    it('folds sessions named by pid and prepared transactions by gid into one subject each, with the worst value', async () => {
      const metrics = new WatchMetrics()
      metrics.record(audit([], [
        {target: 'db', rule: 'idle', subject: 'pid 4242', status: 'warning', value: 30},
        {target: 'db', rule: 'idle', subject: 'pid 4343', status: 'critical', value: 90},
        {target: 'db', rule: 'idle', subject: 'pid 4444', status: 'critical', value: 75},
        {target: 'db', rule: 'prepared', subject: 'prepared transaction tx-9f1c', status: 'critical', value: 400},
      ]))
      const lines = await values(metrics)
      expect(lines).toEqual(['chokepoint_metric_value{target="db",rule="idle",subject="sessions"} 90',
        'chokepoint_metric_value{target="db",rule="prepared",subject="prepared transactions"} 400'])
      expect((await series(metrics)).filter((l) => l.includes('pid ') || l.includes('tx-9f1c'))).toEqual([])
    })

    it('masks registered secrets in subjects and cuts long ones, and leaves no series of a subject that recovered', async () => {
      const secrets = new SecretRegistry()
      secrets.register('hunter2-secret')
      const metrics = new WatchMetrics({scrub: (text) => secrets.scrub(text)})
      metrics.record(audit([], [
        {target: 'db', rule: 'a', subject: 'queue jobs hunter2-secret', status: 'warning', value: 2},
        {target: 'db', rule: 'b', subject: `orders ${'column_name, '.repeat(30)}`, status: 'warning', value: 3},
      ]))
      const text = await metrics.registry.metrics()
      expect(text).not.toContain('hunter2-secret')
      expect(text).toContain('subject="queue jobs ***"')
      const long = (await values(metrics)).find((l) => l.includes('rule="b"'))!
      expect(/subject="([^"]*)"/.exec(long)![1].length).toBeLessThanOrEqual(120)
      metrics.record(audit([], [{target: 'db', rule: 'a', subject: 'queue jobs', status: 'ok', value: 0}]))
      expect(await values(metrics)).toEqual([])
    })
  })

  it('names every metric by the Prometheus conventions (promtool check metrics finds nothing to lint)', async () => {
    const metrics = new WatchMetrics()
    metrics.record(audit([{target: 'db', rule: 'a', severity: 'warning'}], [{target: 'db', rule: 'a', subject: 'pid 1', status: 'warning', value: 30}]))
    metrics.instrumentation().probeEnd?.({target: 'db', probe: 'postgres.activity', durationMs: 12} as never)
    const exposition = await metrics.registry.metrics()
    expect(exposition).toMatch(/^chokepoint_probe_duration_seconds_count/m)
    // promtool exits 1 when it finds a problem (a counter without _total, a unit missing from a name) and lists
    // each, one line per metric. prom-client's own nodejs_active_*_total gauges are its names, not ours.
    const lint = spawnSync('promtool', ['check', 'metrics'], {input: exposition, encoding: 'utf8'})
    const problems = `${lint.stdout}${lint.stderr}`.split('\n').filter((l) => l.trim() !== '')
    expect(problems.filter((l) => !/^nodejs_active_(handles|requests|resources)_total /.test(l))).toEqual([])
  })
})

describe('WatchMetrics and fleet groups', () => {
  it('labels a grouped target\'s series with its group, and leaves the label off for a target without one', async () => {
    const metrics = new WatchMetrics()
    const base = audit([{target: 'db', rule: 'a', severity: 'warning'}], [{target: 'db', rule: 'a', subject: 't', status: 'warning', value: 5, threshold: {target: '< 1', action: '> 10'}}])
    metrics.record({...base, report: {...base.report, targets: [{name: 'db', kind: 'postgres', url: 'postgres://h/db', status: 'ok', group: 'eu'}, {name: 'cache', kind: 'redis', url: 'redis://h', status: 'error'}]}})
    const lines = await series(metrics)
    expect(lines).toContain('chokepoint_up{target="db",group="eu"} 1')
    expect(lines).toContain('chokepoint_up{target="cache"} 0')
    expect(lines).toContain('chokepoint_findings{target="db",rule="a",severity="warning",group="eu"} 1')
    expect(lines).toContain('chokepoint_check_status{target="db",rule="a",group="eu"} 1')
    expect(lines).toContain('chokepoint_metric_value{target="db",group="eu",rule="a",subject="t"} 5')
    metrics.instrumentation().probeEnd?.({target: 'db', probe: 'postgres.activity', durationMs: 20, status: 'ok'})
    expect(await series(metrics)).toContain('chokepoint_probe_duration_seconds_count{target="db",group="eu",probe="postgres.activity"} 1')
  })
})
