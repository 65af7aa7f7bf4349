/**
 * `chokepoint watch` on a PostgreSQL and a Redis of the test's own, scraped by a real Prometheus loaded with the
 * example alerting rules of docs/examples/prometheus-alerts.yaml. The rules are loaded from a copy whose every
 * `for:` is 2 s (the real durations, minutes, are covered by promtool in test/unit/docs/prometheus-alerts.test.ts);
 * watch audits every second and Prometheus scrapes and evaluates every second.
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {schemaOracle} from '../../helpers/fuzz.js'
import {startPrivateCluster, type PrivateCluster} from '../../helpers/pg-cluster.js'
import {heldSessions, waitForSql} from '../../helpers/pg.js'
import {startPrometheus, type PrometheusAlert, type PrometheusServer} from '../../helpers/prometheus-server.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {sample, scrapeUntil, startWatch, type Watcher} from '../../helpers/watch.js'

const EXAMPLE_RULES = resolve(import.meta.dirname, '../../../docs/examples/prometheus-alerts.yaml')

/** Polls Prometheus's /api/v1/alerts (every 250 ms, up to timeoutMs) until `until` holds for the list. */
async function alertsUntil(prom: PrometheusServer, until: (alerts: PrometheusAlert[]) => boolean, what: string, timeoutMs = 30_000): Promise<PrometheusAlert[]> {
  const deadline = Date.now() + timeoutMs
  let alerts = await prom.alerts()
  while (!until(alerts)) {
    if (Date.now() > deadline) throw new Error(`Prometheus never showed ${what}; alerts: ${JSON.stringify(alerts)}`)
    await new Promise((r) => setTimeout(r, 250))
    alerts = await prom.alerts()
  }
  return alerts
}

const firing = (alerts: PrometheusAlert[], name: string, labels: Record<string, string>) =>
  alerts.find((a) => a.state === 'firing' && a.labels.alertname === name && Object.entries(labels).every(([k, v]) => a.labels[k] === v))

describe('chokepoint watch scraped by a real Prometheus with the example alerting rules', () => {
  let dir: string
  let cluster: PrivateCluster
  let redis: RedisServer
  let watcher: Watcher | undefined
  let prom: PrometheusServer | undefined
  const sessions = heldSessions()

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cp-watch-prom-'))
    // Servers of the test's own: the database is stopped and restarted, and on the shared primary other test
    // files' transactions sit idle too.
    cluster = await startPrivateCluster()
    redis = await startRedis()
    const rules = join(dir, 'prometheus-alerts.yaml')
    const example = readFileSync(EXAMPLE_RULES, 'utf8')
    const shortened = example.replace(/^(\s+for:) \S+$/gm, '$1 2s')
    expect(shortened).not.toBe(example)
    writeFileSync(rules, shortened)
    const config = join(dir, 'chokepoint.config.yaml')
    // The default thresholds need a transaction idle for a minute; these make it critical after 200 ms.
    writeFileSync(config, `targets:\n  - {name: db, kind: postgres, url: "${cluster.url}"}\n  - {name: cache, kind: redis, url: "${redis.url}"}\n`
      + `rules:\n  database/idle-in-transaction: {target: "< 100ms", action: "> 200ms"}\n`)
    watcher = await startWatch(['--config', config])
    prom = await startPrometheus(new URL(watcher.url).host, {rulesFile: rules})
  })

  afterAll(async () => {
    await sessions.endAll()
    await watcher?.stop()
    await prom?.stop()
    await redis?.stop()
    cluster?.destroy()
    rmSync(dir, {recursive: true, force: true})
  })

  it('fires ChokepointCheckCritical, naming the worst subject, while an idle transaction is held, and resolves it once it ends', async () => {
    await prom!.waitFor('chokepoint_up{target="db"}', (v) => v === 1, 'db up')
    await prom!.waitFor('chokepoint_up{target="cache"}', (v) => v === 1, 'cache up')
    await prom!.waitFor('chokepoint_check_status{target="db",rule="database/idle-in-transaction"}', (v) => v === 0, 'the idle check ok before the plant')
    // Redis is audited by its rules too, not only reached.
    expect((await prom!.query('count(chokepoint_check_status{target="cache"})'))[0]?.value[1]).toMatch(/^[1-9]/)
    expect(firing(await prom!.alerts(), 'ChokepointCheckCritical', {target: 'db'})).toBeUndefined()

    const idle = await sessions.open(cluster.url, 'cp-test-watch-prom-idle')
    await idle.client.query('BEGIN')
    await idle.client.query('SELECT 1')
    await waitForSql(cluster.url, `SELECT now() - state_change > interval '300 milliseconds' AS ok FROM pg_stat_activity WHERE pid = $1`, [idle.pid])
    const fired = await alertsUntil(prom!, (a) => firing(a, 'ChokepointCheckCritical', {target: 'db', rule: 'database/idle-in-transaction'}) !== undefined,
      'ChokepointCheckCritical firing for the idle transaction')
    const alert = firing(fired, 'ChokepointCheckCritical', {target: 'db', rule: 'database/idle-in-transaction'})!
    expect(alert.labels.severity).toBe('critical')
    // The session is named by its kind, never its pid: one series however many sessions come and go.
    expect(alert.annotations.description).toMatch(/: worst sessions at \d/)
    expect(alert.annotations.description).not.toContain(String(idle.pid))
    const value = await prom!.query('chokepoint_metric_value{target="db",rule="database/idle-in-transaction"}')
    expect(value.map((v) => v.metric.subject)).toEqual(['sessions'])
    expect(Number(value[0].value[1])).toBeGreaterThan(0.2)

    await sessions.endAll()
    await alertsUntil(prom!, (a) => !a.some((x) => x.labels.alertname === 'ChokepointCheckCritical' && x.labels.target === 'db'), 'ChokepointCheckCritical resolved')
    await prom!.waitFor('chokepoint_check_status{target="db",rule="database/idle-in-transaction"}', (v) => v === 0, 'the idle check ok again')
    expect(await prom!.query('chokepoint_metric_value{target="db",rule="database/idle-in-transaction"}')).toEqual([])
  })

  it('keeps running while the database is stopped (up 0, the error in /report, ChokepointTargetDown firing) and recovers once it is back', async () => {
    const up = 'chokepoint_up{target="db"}'
    await scrapeUntil(watcher!.url, (m) => sample(m, up) === 1)
    cluster.stop('fast')
    const down = await scrapeUntil(watcher!.url, (m) => sample(m, up) === 0)
    expect(sample(down, up)).toBe(0)
    expect(sample(down, 'chokepoint_up{target="cache"}')).toBe(1)
    const report = await (await fetch(`${watcher!.url}/report`)).json()
    expect(schemaOracle().report(report)).toBe(true)
    expect(report.targets.find((t: {name: string}) => t.name === 'db')).toMatchObject({status: 'error', error: expect.stringMatching(/\S/)})
    expect(report.targets.find((t: {name: string}) => t.name === 'cache')).toMatchObject({status: 'ok'})
    expect(report.gate.incomplete).toBe(true)
    await alertsUntil(prom!, (a) => firing(a, 'ChokepointTargetDown', {target: 'db'}) !== undefined, 'ChokepointTargetDown firing for db')
    expect(firing(await prom!.alerts(), 'ChokepointTargetDown', {target: 'cache'})).toBeUndefined()
    expect(watcher!.exited()).toBe(false)

    cluster.start()
    // Reconnects back off (1 s, 2 s, 4 s ... while it was down): allow a few of them.
    expect(sample(await scrapeUntil(watcher!.url, (m) => sample(m, up) === 1, 40_000), up)).toBe(1)
    await alertsUntil(prom!, (a) => !a.some((x) => x.labels.alertname === 'ChokepointTargetDown'), 'ChokepointTargetDown resolved')
    // The round that reconnects takes the baselines; the one after it reads the database again.
    const deadline = Date.now() + 10_000
    let after = await (await fetch(`${watcher!.url}/report`)).json()
    while (after.targets.find((t: {name: string}) => t.name === 'db')?.status !== 'ok' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200))
      after = await (await fetch(`${watcher!.url}/report`)).json()
    }
    expect(after.targets.find((t: {name: string}) => t.name === 'db')).toMatchObject({status: 'ok'})
    expect(after.gate.incomplete).toBe(false)
    expect(watcher!.exited()).toBe(false)
    expect((await watcher!.stop()).code).toBe(0)
    watcher = undefined
  })
})
