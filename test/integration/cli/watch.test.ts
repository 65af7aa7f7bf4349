import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {freePort} from '../../helpers/process.js'
import {startPrivateCluster} from '../../helpers/pg-cluster.js'
import {heldSessions, PRIMARY_URL, waitForSql} from '../../helpers/pg.js'
import {schemaOracle} from '../../helpers/fuzz.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {sample, scrape, scrapeUntil, startWatch, type Watcher} from '../../helpers/watch.js'

const PG_TARGET = 'postgres:127.0.0.1:25432/postgres'

describe('chokepoint watch', () => {
  let watcher: Watcher | undefined
  afterAll(async () => {
    await watcher?.stop()
  })

  it('audits every interval on a real PostgreSQL: metrics advance, /report is a valid report, SIGTERM exits 0', async () => {
    watcher = await startWatch(['--pg', PRIMARY_URL])
    const lastAudit = `chokepoint_last_audit_timestamp_seconds`
    const first = await scrapeUntil(watcher.url, (m) => sample(m, lastAudit) !== undefined && sample(m, lastAudit)! > 0)
    expect(sample(first, `chokepoint_up{target="${PG_TARGET}"}`)).toBe(1)
    const firstAt = sample(first, lastAudit)!
    const second = await scrapeUntil(watcher.url, (m) => sample(m, lastAudit)! > firstAt)
    expect(sample(second, lastAudit)).toBeGreaterThan(firstAt)
    expect(sample(second, `chokepoint_up{target="${PG_TARGET}"}`)).toBe(1)
    // The harness's primary holds no planted problem, but every postgres rule is checked: each has a status series.
    expect(second).toMatch(new RegExp(`^chokepoint_check_status\\{target="${PG_TARGET}",rule="database/xid-wraparound"\\} 0$`, 'm'))
    expect(second).toMatch(/^# TYPE chokepoint_findings gauge$/m)
    expect(second).toMatch(new RegExp(`^chokepoint_probe_duration_seconds_count\\{target="${PG_TARGET}",probe="postgres\\.connections"\\} [1-9]`, 'm'))
    expect(second).toMatch(/^chokepoint_audit_duration_seconds_count [1-9]/m)
    expect(second).toMatch(/^process_resident_memory_bytes /m)

    const response = await fetch(`${watcher.url}/report`)
    expect(response.status).toBe(200)
    const report = await response.json()
    expect(schemaOracle().report(report)).toBe(true)
    expect(report.targets.map((t: {name: string; status: string}) => [t.name, t.status])).toEqual([[PG_TARGET, 'ok']])
    expect(report.windowSeconds).toBe(1)
    expect((await fetch(`${watcher.url}/healthz`)).status).toBe(200)

    const {code, ms} = await watcher.stop()
    expect(code).toBe(0)
    expect(ms).toBeLessThan(5_000)
    watcher = undefined
  })

  it('reports a target nothing listens on as down and keeps watching the others', async () => {
    const port = await freePort()
    watcher = await startWatch(['--pg', PRIMARY_URL, '--redis', `redis://127.0.0.1:${port}`])
    const metrics = await scrapeUntil(watcher.url, (m) => sample(m, `chokepoint_up{target="redis:127.0.0.1:${port}"}`) === 0
      && sample(m, `chokepoint_up{target="${PG_TARGET}"}`) === 1)
    expect(sample(metrics, `chokepoint_up{target="redis:127.0.0.1:${port}"}`)).toBe(0)
    expect(sample(metrics, `chokepoint_up{target="${PG_TARGET}"}`)).toBe(1)
    const report = await (await fetch(`${watcher.url}/report`)).json()
    expect(report.targets.find((t: {name: string}) => t.name === `redis:127.0.0.1:${port}`)).toMatchObject({status: 'error', error: expect.stringMatching(/could not connect/)})
    expect(watcher.exited()).toBe(false)
    expect((await watcher.stop()).code).toBe(0)
    watcher = undefined
  })

  it('raises the check status and findings of a planted idle transaction while it lasts, and lowers them once it ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-watch-'))
    const sessions = heldSessions()
    // A server of the test's own: on the shared primary, other test files' transactions sit idle too, and would
    // keep the count from falling when the planted one ends.
    const cluster = await startPrivateCluster()
    const server = cluster.url
    try {
      const config = join(dir, 'chokepoint.config.yaml')
      // The default thresholds need a transaction idle for a minute; these fire after a fraction of a second.
      writeFileSync(config, `targets:\n  - {name: db, kind: postgres, url: "${server}"}\nrules:\n  database/idle-in-transaction: {target: "< 100ms", action: "> 200ms"}\n`)
      watcher = await startWatch(['--config', config])
      const status = 'chokepoint_check_status{target="db",rule="database/idle-in-transaction"}'
      const critical = 'chokepoint_findings{target="db",rule="database/idle-in-transaction",severity="critical"}'
      await scrapeUntil(watcher.url, (m) => sample(m, status) !== undefined)
      const idle = await sessions.open(server, 'cp-test-watch-idle')
      await idle.client.query('BEGIN')
      await idle.client.query('SELECT 1')
      await waitForSql(server, `SELECT now() - state_change > interval '300 milliseconds' AS ok FROM pg_stat_activity WHERE pid = $1`, [idle.pid])
      const firing = await scrapeUntil(watcher.url, (m) => sample(m, status) === 2)
      expect(sample(firing, status)).toBe(2)
      const held = sample(firing, critical)!
      expect(held).toBeGreaterThanOrEqual(1)
      await sessions.endAll()
      const resolved = await scrapeUntil(watcher.url, (m) => (sample(m, critical) ?? 0) === 0)
      expect(sample(resolved, critical) ?? 0).toBe(0)
      expect(sample(resolved, status)).toBe(0)
      expect((await watcher.stop()).code).toBe(0)
      watcher = undefined
    } finally {
      await sessions.endAll()
      cluster.destroy()
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('reloads the config file on SIGHUP: a target added to it is watched, one removed is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cp-watch-'))
    try {
      const config = join(dir, 'chokepoint.config.yaml')
      writeFileSync(config, `targets:\n  - {name: first, kind: postgres, url: "${PRIMARY_URL}"}\n`)
      watcher = await startWatch(['--config', config])
      await scrapeUntil(watcher.url, (m) => sample(m, 'chokepoint_up{target="first"}') === 1)
      writeFileSync(config, `targets:\n  - {name: second, kind: postgres, url: "${PRIMARY_URL}"}\n`)
      watcher.signal('SIGHUP')
      const reloaded = await scrapeUntil(watcher.url, (m) => sample(m, 'chokepoint_up{target="second"}') === 1)
      expect(sample(reloaded, 'chokepoint_up{target="second"}')).toBe(1)
      expect(sample(reloaded, 'chokepoint_up{target="first"}')).toBeUndefined()
      expect((await watcher.stop()).code).toBe(0)
      watcher = undefined
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  describe('a Redis killed and restarted while watched', () => {
    let redis: RedisServer | undefined
    beforeAll(async () => {
      redis = await startRedis()
    })
    afterAll(async () => {
      await redis?.stop()
    })

    it('goes up 1, down 0, then up 1 again without a restart of watch', async () => {
      const {port, url} = redis!
      const series = `chokepoint_up{target="redis:127.0.0.1:${port}"}`
      watcher = await startWatch(['--redis', url])
      await scrapeUntil(watcher.url, (m) => (sample(m, 'chokepoint_last_audit_timestamp_seconds') ?? 0) > 0 && sample(m, series) === 1)
      expect(sample(await scrape(watcher.url), series)).toBe(1)
      await redis!.stop()
      expect(sample(await scrapeUntil(watcher.url, (m) => sample(m, series) === 0), series)).toBe(0)
      redis = await startRedis({port})
      expect(sample(await scrapeUntil(watcher.url, (m) => sample(m, series) === 1, 20_000), series)).toBe(1)
      const report = await (await fetch(`${watcher.url}/report`)).json()
      expect(watcher.exited()).toBe(false)
      expect(schemaOracle().report(report)).toBe(true)
      expect((await watcher.stop()).code).toBe(0)
      watcher = undefined
    })
  })
})
