/**
 * Prometheus-backed rules read their own lookback from the server's history, not the audit's sampling window.
 * One app exports three node_exporter-shaped CPU hosts whose busy share the test sets (held high; high with a brief
 * dip; low with a brief spike) and a request histogram; one real Prometheus scrapes it every second. Lookbacks are
 * short (24 s, a 3 s short-step range) so the test takes about a minute.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {analyseSnapshot, runAudit} from '../../../src/index.js'
import type {ChokepointConfig} from '../../../src/core/config.js'
import {readSavedDocument} from '../../../src/core/snapshot-io.js'
import type {Report, Snapshot, TargetSpec} from '../../../src/core/types.js'
import {drive, startMetricsApp, type MetricsApp} from '../../helpers/metrics-app.js'
import {startPrometheus, type PrometheusServer} from '../../helpers/prometheus-server.js'

const LOOKBACK = 24
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function reading(snapshot: Snapshot, probe: string) {
  const r = snapshot.readings.find((x) => x.probe === probe)
  if (!r) throw new Error(`no ${probe} reading; have ${snapshot.readings.map((x) => x.probe).join(', ')}`)
  return r
}
const metricOf = (snapshot: Snapshot, probe: string, name: string, subject: string) =>
  reading(snapshot, probe).metrics.find((m) => m.name === name && m.subject === subject)
const findingOf = (report: Report, rule: string, subject: string) => report.findings.find((f) => f.rule === rule && f.subject === subject)
const checkOf = (report: Report, rule: string, subject: string) => report.checks.find((c) => c.rule === rule && c.subject === subject)

describe('Prometheus rules read their own lookback (real Prometheus)', () => {
  let app: MetricsApp
  let prom: PrometheusServer
  let target: TargetSpec

  const audit = (rules: ChokepointConfig['rules'], skipProbes: string[] = ['prometheus.app-pools', 'prometheus.memory']) =>
    runAudit({targets: [target], windowSeconds: 0, failOn: 'critical', config: {rules, skipProbes}})
  const cpuRules = {'resources/cpu': {lookback: `${LOOKBACK}s`}}

  beforeAll(async () => {
    app = await startMetricsApp({cpuHosts: {held: 0.95, dip: 1, spike: 0.2}})
    prom = await startPrometheus(app.hostPort)
    // resourceGroupBy host: each exported host is a subject; a 3 s range, evaluated every 2 s, for the level held.
    target = {name: 'prom', kind: 'prometheus', url: prom.url, options: {resourceGroupBy: 'host', sustainRange: '3s'}}
    // Histogram series exist before the load that is measured (a series' first samples have no rate).
    await drive(app, '/slow?ms=10', 1)
    await drive(app, '/fast', 1)
    // A few steps of the held-level series (3 s rate every 2 s), far fewer than the 24 s lookback.
    await prom.waitFor('count_over_time((1 - avg by (host) (rate(node_cpu_seconds_total{mode="idle"}[3s])))[24s:2s])', (v) => v >= 2, 'a few CPU rate steps', 160)
  }, 90_000)

  afterAll(async () => {
    await prom?.stop()
    await app?.stop()
  })

  it('with less history than the lookback, the value covers what Prometheus has and says so', async () => {
    const {report, snapshot} = await audit(cpuRules, ['prometheus.app-pools', 'prometheus.memory', 'prometheus.latency', 'prometheus.errors'])
    const held = metricOf(snapshot, 'prometheus.cpu', 'host.cpu.utilization', 'held')!
    const lookback = held.evidence?.lookback as Record<string, unknown>
    expect(lookback).toMatchObject({seconds: LOOKBACK, basis: 'rule setting', partial: true, sustained: true, rules: ['resources/cpu']})
    expect(lookback.coveredSeconds).toBeGreaterThan(0)
    expect(lookback.coveredSeconds).toBeLessThan(LOOKBACK / 2)
    expect(lookback.over).toMatch(/^over the \d+ s Prometheus has of the 24 s lookback$/)
    // The value is still read (over what there is), the finding and the check say how much that was.
    const finding = findingOf(report, 'resources/cpu', 'held')
    expect(finding?.severity).toBe('critical')
    expect(finding?.message).toMatch(/^CPU of held averaged 9\d(\.\d)?% over the \d+(\.\d+)? s Prometheus has of the 24 s lookback, never below 9\d(\.\d)?%/)
    expect(checkOf(report, 'resources/cpu', 'held')?.lookback).toMatchObject({seconds: LOOKBACK, coveredSeconds: lookback.coveredSeconds})
  })

  it('a level held through the lookback fires; a brief spike is quiet; a brief dip keeps it from critical; p95 is over the lookback', async () => {
    // Enough history for the whole lookback (1 s scrapes).
    await prom.waitFor(`count_over_time(node_cpu_seconds_total{host="held",mode="idle"}[${LOOKBACK + 10}s])`, (v) => v >= LOOKBACK + 4, 'a full lookback of history', 200)
    app.setCpu('spike', 1)
    app.setCpu('dip', 0.2)
    // Slow requests during the spike: inside the long lookback, outside the short one below.
    await drive(app, '/slow', 10, 5)
    await sleep(4000 - 1200)
    app.setCpu('spike', 0.2)
    app.setCpu('dip', 1)
    await sleep(4000)
    await drive(app, '/fast', 30, 4)
    await prom.waitFor('sum(http_request_duration_seconds_count{route="/fast"})', (v) => v >= 31, 'the fast requests scraped')
    await sleep(1500)

    const {report, snapshot} = await audit({...cpuRules, 'latency/p95': {lookback: `${LOOKBACK}s`}})
    const cpu = (host: string) => metricOf(snapshot, 'prometheus.cpu', 'host.cpu.utilization', host)!
    const lb = (host: string) => cpu(host).evidence?.lookback as {partial: boolean; coveredSeconds: number; min: number; max: number; over: string; query: string}

    // Held at 95%: the lowest level through the lookback is above 80%, so critical, and the message says so.
    expect(lb('held')).toMatchObject({partial: false, coveredSeconds: LOOKBACK, over: 'over 24 s'})
    expect(lb('held').min).toBeGreaterThan(0.9)
    const held = findingOf(report, 'resources/cpu', 'held')
    expect(held?.severity).toBe('critical')
    expect(held?.message).toMatch(/^CPU of held averaged 9\d(\.\d)?% over 24 s, never below 9\d(\.\d)?% \(target <= 70%, act > 80% sustained\)$/)
    expect(checkOf(report, 'resources/cpu', 'held')?.lookback).toEqual({seconds: LOOKBACK, coveredSeconds: LOOKBACK, over: 'over 24 s'})
    expect(lb('held').query).toMatch(/min_over_time\(\(1 - avg by \(host\) \(rate\(node_cpu_seconds_total\{mode="idle"\}\[3s\]\)\)\)\[24s:2s\]\)/)

    // Busy all the time but for a 4 s dip: the mean is above 80%, the level held is not: a warning, not critical.
    expect(cpu('dip').value).toBeGreaterThan(0.8)
    expect(lb('dip').min).toBeLessThan(0.6)
    expect(findingOf(report, 'resources/cpu', 'dip')?.severity).toBe('warning')

    // Idle but for a 4 s spike to 100%: seen in the evidence (max), not sustained, quiet.
    expect(lb('spike').max).toBeGreaterThan(0.9)
    expect(cpu('spike').value).toBeLessThan(0.6)
    expect(findingOf(report, 'resources/cpu', 'spike')).toBeUndefined()
    expect(checkOf(report, 'resources/cpu', 'spike')).toMatchObject({status: 'ok', lookback: {seconds: LOOKBACK, over: 'over 24 s'}})

    // p95 over the 24 s lookback includes the slow requests; the rule's message and evidence name the lookback.
    const p95 = findingOf(report, 'latency/p95', 'app')
    expect(p95?.severity).toBe('critical')
    expect(p95?.message).toMatch(/^p95 latency of app is \d+ ms over 24 s \(target < 200ms, act > 500ms\)$/)
    expect(p95?.evidence.query).toContain('[24s]')
    expect(p95?.evidence.lookback).toMatchObject({seconds: LOOKBACK, basis: 'rule setting', sustained: false})
    // The error rate, left at its rule file's 5 minutes, says so too (Prometheus has less: partial).
    const errors = metricOf(snapshot, 'prometheus.errors', 'http.error_rate', 'app')!
    expect(errors.evidence?.lookback).toMatchObject({seconds: 300, basis: 'rule default', partial: true})

    // The same p95 over the last 6 s holds only the fast requests: quiet. The lookback, not the window, decides.
    const short = await audit({'latency/p95': {lookback: '6s'}}, ['prometheus.app-pools', 'prometheus.memory', 'prometheus.cpu', 'prometheus.errors'])
    expect(findingOf(short.report, 'latency/p95', 'app')).toBeUndefined()
    expect(metricOf(short.snapshot, 'prometheus.latency', 'http.latency.p95', 'app')?.value).toBeLessThan(0.2)

    // Offline: the snapshot keeps the values as read and the lookback they cover; a rule that now asks for another
    // lookback is judged on the recorded value, and its check says which lookback that was.
    const offline = await analyseSnapshot(snapshot, {config: {rules: {'resources/cpu': {lookback: '10m'}}}, failOn: 'critical', source: 'snapshot'})
    expect(findingOf(offline, 'resources/cpu', 'held')?.message).toBe(held?.message)
    expect(findingOf(offline, 'resources/cpu', 'dip')?.severity).toBe('warning')
    expect(checkOf(offline, 'resources/cpu', 'held')?.lookback).toEqual({seconds: LOOKBACK, coveredSeconds: LOOKBACK, over: 'over 24 s', ruleSeconds: 600})
    // The report with its checks' lookbacks and rules' lookbacks, and the snapshot, are valid against their schemas.
    expect(report.rules.find((r) => r.id === 'resources/cpu')).toMatchObject({lookback: '5m', sustained: true})
    const dir = mkdtempSync(join(tmpdir(), 'cp-lookback-'))
    try {
      for (const [name, doc] of [['report.json', offline], ['snapshot.json', snapshot]] as const) {
        writeFileSync(join(dir, name), JSON.stringify(doc))
        expect(() => readSavedDocument(join(dir, name))).not.toThrow()
      }
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }, 120_000)
})
