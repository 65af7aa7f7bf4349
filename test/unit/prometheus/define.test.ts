import {describe, expect, it} from 'vitest'
import {ProbeSkip} from '../../../src/core/errors.js'
import type {ProbeContext} from '../../../src/core/probe.js'
import type {PrometheusSession, PromSample} from '../../../src/drivers/prometheus.js'
import {definePromqlProbe} from '../../../src/probes/prometheus/define.js'

/** A server that answers each query from `answer`, and remembers what it was asked. */
function fakeServer(answer: (query: string) => PromSample[], mode: 'server' | 'scrape' = 'server') {
  const asked: string[] = []
  const session = {mode, baseUrl: new URL('http://prom:9090'), query: async (q: string) => (asked.push(q), answer(q))} as unknown as PrometheusSession
  return {session, asked}
}
const ctx = (options: Record<string, unknown> = {}): ProbeContext => ({target: {name: 'prom', kind: 'prometheus', url: 'http://prom:9090'}, windowSeconds: 0, options, log: () => {}})
const candidates = [{name: 'first', query: 'first_metric[{{window}}] by ({{by}})'}, {name: 'second', query: 'second_metric[{{window}}] by ({{by}})', factor: 0.001}]

describe('definePromqlProbe', () => {
  const single = definePromqlProbe({id: 'prometheus.test', description: 'test', needs: 'test.metric', per: 'service',
    query: () => ({metric: 'test.metric', key: 'errorRate', candidates})})

  it('uses the first candidate with series, converts its unit and flags groups without traffic', async () => {
    const {session, asked} = fakeServer((q) => (q.startsWith('second') ? [{labels: {job: 'api'}, value: 250}, {labels: {job: 'idle'}, value: NaN}] : []))
    const out = await single.collect(session, ctx(), undefined)
    // The value over the 5 min lookback, then the level held: the same query over a 1 min range, every 30 s through it.
    const held = 'label_replace(min_over_time((second_metric[1m] by (job))[5m:30s]), "chokepoint_stat", "min", "", "")'
      + ' or label_replace(max_over_time((second_metric[1m] by (job))[5m:30s]), "chokepoint_stat", "max", "", "")'
      + ' or label_replace(count_over_time((second_metric[1m] by (job))[5m:30s]), "chokepoint_stat", "count", "", "")'
    // The fake server keeps no history: not a step of either series, so the value's own query is counted too.
    expect(asked).toEqual(['first_metric[5m] by (job)', 'second_metric[5m] by (job)', held, 'count_over_time((second_metric[5m] by (job))[5m:30s])'])
    expect(out.data).toEqual({window: '5m', groupBy: 'job', matched: 'second', query: 'second_metric[5m] by (job)',
      lookback: {seconds: 300, basis: 'default', rangeSeconds: 60, stepSeconds: 30}})
    expect(out.metrics).toMatchObject([
      {name: 'test.metric', subject: 'api', value: 0.25, evidence: {matched: 'second', query: 'second_metric[5m] by (job)', window: '5m'}},
      {name: 'test.metric', subject: 'idle', value: null, evidence: {matched: 'second', query: 'second_metric[5m] by (job)', window: '5m', noTraffic: true}},
    ])
    expect(out.metrics[0].evidence?.lookback).toMatchObject({seconds: 300, coveredSeconds: null, partial: true, over: 'over less than 30 s: all Prometheus has of the 5 min lookback', query: held})
  })

  it('makes the reading an error naming the option to set when nothing matches, and skips on a bare /metrics endpoint', async () => {
    await expect(single.collect(fakeServer(() => []).session, ctx(), undefined)).rejects.toThrow(/test\.metric returned no series \(tried first; second\): set options\.prometheus\.queries\.errorRate/)
    await expect(single.collect(fakeServer(() => [], 'scrape').session, ctx(), undefined)).rejects.toBeInstanceOf(ProbeSkip)
  })

  it('groups resource metrics per instance, without a window for gauges, and lets a known cause turn no series into a skip', async () => {
    const gauge = definePromqlProbe({id: 'prometheus.gauge', description: 'test', needs: 'gauge', per: 'instance', windowed: false,
      query: () => ({metric: 'gauge', key: 'memory', candidates: [{name: 'g', query: 'g by ({{by}})'}]}),
      async beforeNoSeries(session) {
        if ((await session.query('cause')).length > 0) throw new ProbeSkip('known cause')
      }})
    // A gauge's value is its mean through the lookback; a server without a step of history answers only the current value.
    const {session, asked} = fakeServer((q) => (q === 'g by (job, instance)' ? [{labels: {job: 'a', instance: 'h:1'}, value: NaN}] : []))
    const out = await gauge.collect(session, ctx(), undefined)
    expect(asked).toEqual(['g by (job, instance)', 'avg_over_time((g by (job, instance))[5m:30s])'])
    expect(out.data).toMatchObject({groupBy: 'job, instance', matched: 'g', query: 'g by (job, instance)'})
    expect(out.metrics).toMatchObject([{name: 'gauge', subject: 'a/h:1', value: null, evidence: {matched: 'g', query: 'g by (job, instance)',
      lookback: {coveredSeconds: 0, partial: true, over: 'now (Prometheus has less than a 30 s step of the 5 min lookback)'}}}])
    await expect(gauge.collect(fakeServer((q) => (q === 'cause' ? [{labels: {}, value: 1}] : [])).session, ctx(), undefined)).rejects.toThrow(new ProbeSkip('known cause'))
  })

  it('with several queries, keeps those that match and reports the others as the reason of an error reading', async () => {
    const multi = definePromqlProbe({id: 'prometheus.multi', description: 'test', needs: 'multi', per: 'service',
      queries: () => [
        {metric: 'm.a', key: 'latencyP95', candidates: [{name: 'a', query: 'a'}], evidence: {quantile: 0.95}},
        {metric: 'm.b', key: 'latencyP99', candidates: [{name: 'b', query: 'b'}]},
      ]})
    const out = await multi.collect(fakeServer((q) => (q === 'a' ? [{labels: {job: 'api'}, value: 1}] : [])).session, ctx({queries: {}}), undefined)
    expect(out.data).toMatchObject({window: '5m', groupBy: 'job', matches: {'m.a': {matched: 'a', query: 'a'}}})
    expect(out.metrics).toMatchObject([{name: 'm.a', subject: 'api', value: 1, evidence: {matched: 'a', query: 'a', window: '5m', quantile: 0.95}}])
    expect(out.status).toBe('error')
    expect(out.reason).toMatch(/^query for m\.b returned no series \(tried b\): set options\.prometheus\.queries\.latencyP99$/)
  })
})
