import {describe, expect, it} from 'vitest'
import {parseExposition, promNumber} from '../../../src/drivers/prometheus.js'
import {errorRateCandidates, latencyCandidates, render, subjectOf} from '../../../src/probes/prometheus/queries.js'

describe('Prometheus text exposition parsing', () => {
  it('reads names, escaped label values, special values and skips comments', () => {
    const samples = parseExposition([
      '# HELP pg_pool_total node-postgres totalCount',
      '# TYPE pg_pool_total gauge',
      'pg_pool_total{pool="main"} 4',
      'odd{path="a\\"b\\\\c",x="1"} 2 1700000000000',
      'bucket{le="+Inf"} +Inf',
      'nothing_here{',
      'plain 3.5',
    ].join('\n'))
    expect(samples).toEqual([
      {labels: {__name__: 'pg_pool_total', pool: 'main'}, value: 4},
      {labels: {__name__: 'odd', path: 'a"b\\c', x: '1'}, value: 2},
      {labels: {__name__: 'bucket', le: '+Inf'}, value: Infinity},
      {labels: {__name__: 'plain'}, value: 3.5},
    ])
    expect(promNumber('NaN')).toBeNaN()
    expect(promNumber('-Inf')).toBe(-Infinity)
  })
})

describe('default PromQL candidates', () => {
  const s = {window: '5m', by: 'job', resourceBy: 'job, instance', queries: {}}
  it('fill {{window}} and {{by}}', () => {
    expect(render(latencyCandidates(0.95)[0].query, s)).toBe('histogram_quantile(0.95, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))')
  })
  it('error-rate denominators only select series that carry the status label', () => {
    const q = render(errorRateCandidates()[0].query, s)
    expect(q).toBe('(sum by (job) (rate(http_request_duration_seconds_count{status_code=~"5.."}[5m])) or sum by (job) (rate(http_request_duration_seconds_count{status_code!=""}[5m])) * 0) / sum by (job) (rate(http_request_duration_seconds_count{status_code!=""}[5m]))')
  })
  it('OTel millisecond histograms are converted to seconds', () => {
    expect(latencyCandidates(0.99).find((c) => c.query.includes('http_server_duration_milliseconds_bucket'))?.factor).toBe(0.001)
  })
  it('subjects join the grouping labels and fall back to the target', () => {
    expect(subjectOf({labels: {job: 'api', instance: '10.0.0.1:9100'}, value: 1}, 'job, instance', 't')).toBe('api/10.0.0.1:9100')
    expect(subjectOf({labels: {}, value: 1}, 'job', 't')).toBe('t')
  })
})
