import {describe, expect, it} from 'vitest'
import type {Report} from '../../../src/core/types.js'
import {WatchMetrics} from '../../../src/core/watch-metrics.js'

/** The parts of a report the metrics read; the rest does not matter to them. */
function audit(findings: Array<{target: string; rule: string; severity: string}>, checks: Array<{target: string; rule: string; subject: string; status: string}>) {
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
})

describe('WatchMetrics and fleet groups', () => {
  it('labels a grouped target\'s series with its group, and leaves the label off for a target without one', async () => {
    const metrics = new WatchMetrics()
    const base = audit([{target: 'db', rule: 'a', severity: 'warning'}], [{target: 'db', rule: 'a', subject: 't', status: 'warning'}])
    metrics.record({...base, report: {...base.report, targets: [{name: 'db', kind: 'postgres', url: 'postgres://h/db', status: 'ok', group: 'eu'}, {name: 'cache', kind: 'redis', url: 'redis://h', status: 'error'}]}})
    const lines = await series(metrics)
    expect(lines).toContain('chokepoint_up{target="db",group="eu"} 1')
    expect(lines).toContain('chokepoint_up{target="cache"} 0')
    expect(lines).toContain('chokepoint_findings{target="db",rule="a",severity="warning",group="eu"} 1')
    expect(lines).toContain('chokepoint_check_status{target="db",rule="a",group="eu"} 1')
    metrics.instrumentation().probeEnd?.({target: 'db', probe: 'postgres.activity', durationMs: 20, status: 'ok'})
    expect(await series(metrics)).toContain('chokepoint_probe_duration_seconds_count{target="db",group="eu",probe="postgres.activity"} 1')
  })
})
