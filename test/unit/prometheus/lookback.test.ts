import {describe, expect, it} from 'vitest'
import {effectiveRules} from '../../../src/core/config.js'
import type {ProbeContext} from '../../../src/core/probe.js'
import {metricLookbacks} from '../../../src/core/rules.js'
import {lookbackEvidence, planLookback, promDuration, statsQuery} from '../../../src/probes/prometheus/lookback.js'
import {registry} from '../../helpers/context.js'

const ctx = (rules: Record<string, unknown> = {}, options: Record<string, unknown> = {}): ProbeContext => ({
  target: {name: 'prom', kind: 'prometheus', url: 'http://prom:9090'}, windowSeconds: 5, options, log: () => {},
  lookbacks: metricLookbacks(effectiveRules({rules: rules as never}, 'prom', registry.rules())),
})

describe('the lookback a Prometheus metric is read over', () => {
  it('comes from the rule file (5 min, CPU sustained), not from the audit window', () => {
    expect(planLookback(ctx(), 'host.cpu.utilization')).toEqual({seconds: 300, basis: 'rule default', sustained: true, rules: ['resources/cpu'], rangeSeconds: 60, stepSeconds: 30})
    expect(planLookback(ctx(), 'http.latency.p95')).toMatchObject({seconds: 300, basis: 'rule default', sustained: false, rules: ['latency/p95']})
    // A metric no rule sets a lookback for: 5 minutes.
    expect(planLookback(ctx(), 'pool.utilization')).toMatchObject({seconds: 300, basis: 'default', rules: []})
  })

  it("the user's rule setting wins over the target's window option, which wins over the rule file", () => {
    expect(planLookback(ctx({}, {window: '1m'}), 'host.cpu.utilization')).toMatchObject({seconds: 60, basis: 'options.window', rangeSeconds: 12, stepSeconds: 6})
    expect(planLookback(ctx({'resources/cpu': {lookback: '15m'}}, {window: '1m'}), 'host.cpu.utilization')).toMatchObject({seconds: 900, basis: 'rule setting', rangeSeconds: 180, stepSeconds: 90})
    // A rule turned off asks for nothing; sustained can be asked per rule.
    expect(planLookback(ctx({'resources/cpu': 'off'}), 'host.cpu.utilization')).toMatchObject({basis: 'default', sustained: false})
    expect(planLookback(ctx({'latency/p95': {sustained: true}}), 'http.latency.p95')).toMatchObject({sustained: true})
    expect(planLookback(ctx({}, {sustainRange: '10s'}), 'host.cpu.utilization')).toMatchObject({rangeSeconds: 10, stepSeconds: 5})
    expect(() => planLookback(ctx({}, {window: 'soon'}), 'host.cpu.utilization')).toThrow(/options\.prometheus\.window: expected a duration/)
  })

  it('names what the value covers, and how much of the lookback Prometheus had', () => {
    const plan = planLookback(ctx(), 'host.cpu.utilization')
    expect(promDuration(300)).toBe('5m')
    expect(promDuration(24)).toBe('24s')
    expect(statsQuery('x', plan)).toBe('label_replace(min_over_time((x)[5m:30s]), "chokepoint_stat", "min", "", "") or label_replace(max_over_time((x)[5m:30s]), "chokepoint_stat", "max", "", "") or label_replace(count_over_time((x)[5m:30s]), "chokepoint_stat", "count", "", "")')
    // 11 steps of 30 s (both ends of the range): all of it.
    expect(lookbackEvidence(plan, 'q', {min: 0.8, max: 0.9, count: 11})).toMatchObject({coveredSeconds: 300, partial: false, over: 'over 5 min', min: 0.8, max: 0.9})
    // One step short is the edge of the first rate, still all of it; four steps are 2 minutes of 5.
    expect(lookbackEvidence(plan, 'q', {min: 0.8, max: 0.9, count: 9})).toMatchObject({partial: false})
    expect(lookbackEvidence(plan, 'q', {min: 0.8, max: 0.9, count: 4})).toMatchObject({coveredSeconds: 120, partial: true, over: 'over the 2 min Prometheus has of the 5 min lookback'})
    expect(lookbackEvidence(plan, 'q', undefined, {statsError: 'bad query'})).toMatchObject({coveredSeconds: null, min: null, note: expect.stringMatching(/could not be read: bad query/)})
    // No step of the short-range series: younger than a step, or scrapes too seldom for the range (the value's own
    // query through the lookback has steps then: its coverage is that, and the note names the option).
    expect(lookbackEvidence(plan, 'q', {min: null, max: null, count: 0}, {wideSteps: 0})).toMatchObject({coveredSeconds: null, partial: true, over: 'over less than 30 s: all Prometheus has of the 5 min lookback'})
    expect(lookbackEvidence(plan, 'q', {min: null, max: null, count: 0}, {wideSteps: 11})).toMatchObject({coveredSeconds: 300, partial: false, over: 'over 5 min', min: null, note: expect.stringMatching(/sustainRange/)})
  })
})
