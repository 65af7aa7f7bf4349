/**
 * OpenTelemetry traces of the built CLI, received by a real OTLP/HTTP receiver (OTLP JSON) in this process: the
 * span tree of an audit of the harness PostgreSQL and a private Redis, the database semantic conventions on every
 * client span, no password and no literal anywhere in what was sent, one trace per watch round flushed at
 * SIGTERM, and nothing at all when the SDK is disabled.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import {runCliAsync, spawnCli} from '../../helpers/cli.js'
import {OtlpReceiver, type ReceivedSpan} from '../../helpers/otlp-receiver.js'
import {PRIMARY_PORT} from '../../helpers/pg.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {loadSqlNormaliser, normaliseSql} from '../../../src/telemetry/sql.js'

const PG_PASSWORD = 'otel-pg-pass-7f3a'
const REDIS_PASSWORD = 'otel-redis-pass-91c2'
/** A literal in a statement chokepoint EXPLAINs (--query): sent to the server, never exported. */
const LITERAL = 'otel-literal-4b8e'
const PG_URL = `postgres://postgres:${PG_PASSWORD}@127.0.0.1:${PRIMARY_PORT}/postgres`
const CLIENT = 3

const receiver = new OtlpReceiver()
let endpoint: string
let redis: RedisServer
let work: string

function otelEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', ...extra}
}

const roots = () => receiver.spans.filter((s) => !s.parentSpanId)
const byId = (id: string | undefined) => receiver.spans.find((s) => s.spanId === id)

beforeAll(async () => {
  await loadSqlNormaliser()
  endpoint = await receiver.start()
  redis = await startRedis({requirepass: REDIS_PASSWORD})
  work = mkdtempSync(join(tmpdir(), 'cp-otel-'))
})

afterAll(async () => {
  await receiver.stop()
  await redis?.stop()
  rmSync(work, {recursive: true, force: true})
})

beforeEach(() => receiver.reset())

describe('traces of an audit', () => {
  it('nest audit > target > probe > client spans with the database conventions, and carry no password or literal', async () => {
    const result = await runCliAsync(['audit', '--pg', PG_URL, '--redis', redis.url, '--window', '1s', '--format', 'json',
      '--query', `SELECT relname FROM pg_class WHERE relname = '${LITERAL}'`], {env: otelEnv(), cwd: work})
    expect([0, 1, 3], result.stderr).toContain(result.status)
    const report = JSON.parse(result.stdout) as {overhead: Array<{target: string; commands: Array<{probe: string; text: string}>}>}
    // The literal was sent (the test could not fail otherwise), and the report holds it as it always did.
    expect(report.overhead.flatMap((o) => o.commands).some((c) => c.text.includes(LITERAL))).toBe(true)

    expect(roots().map((r) => r.name)).toEqual(['chokepoint audit'])
    const [audit] = roots()
    expect(audit.resource).toMatchObject({'service.name': 'chokepoint'})
    expect(audit.resource['process.command_args']).toBeUndefined()
    const targets = receiver.children(audit).filter((s) => s.name.startsWith('target '))
    expect(targets).toHaveLength(2)
    const pg = targets.find((t) => t.attributes['chokepoint.target.kind'] === 'postgres')!
    const cache = targets.find((t) => t.attributes['chokepoint.target.kind'] === 'redis')!
    expect(pg.attributes).toMatchObject({'db.system.name': 'postgresql', 'server.address': '127.0.0.1', 'server.port': PRIMARY_PORT, 'db.namespace': 'postgres'})
    expect(cache.attributes).toMatchObject({'db.system.name': 'redis', 'server.address': '127.0.0.1', 'server.port': Number(new URL(redis.url).port), 'db.namespace': '0'})

    for (const target of [pg, cache]) {
      const kids = receiver.children(target).map((s) => s.name)
      expect(kids).toContain('connect')
      // Every probe that sent a command has its span under its target.
      const entry = report.overhead.find((o) => o.target === target.attributes['chokepoint.target.name'])!
      for (const probe of new Set(entry.commands.map((c) => c.probe))) {
        if (probe === 'connect') continue
        expect(kids, probe).toContain(probe.startsWith('advisor.') ? `advisor ${probe.slice('advisor.'.length)}` : `probe ${probe}`)
      }
    }

    const clients = receiver.spans.filter((s) => s.kind === CLIENT)
    expect(clients.length).toBeGreaterThan(20)
    for (const span of clients) {
      // Client spans hang under a connect, baseline, probe or advisor span of their target.
      const parent = byId(span.parentSpanId)!
      const target = byId(parent.parentSpanId)!
      expect([pg.spanId, cache.spanId], `${span.name} under ${parent.name}`).toContain(target.spanId)
      expect(span.attributes).toMatchObject({'db.system.name': target.attributes['db.system.name'], 'server.port': target.attributes['server.port'],
        'db.namespace': target.attributes['db.namespace']})
      expect(span.attributes['db.operation.name'], span.name).toBeTruthy()
    }

    const pgClients = clients.filter((s) => s.attributes['db.system.name'] === 'postgresql')
    const exported = new Set(pgClients.map((s) => s.attributes['db.query.text']))
    // chokepoint's own SQL always parses, so every query has its text, and none keeps a string literal.
    expect(exported.has(undefined)).toBe(false)
    for (const text of exported) expect(String(text)).not.toMatch(/'/)
    // db.query.text is the text chokepoint sent, normalised: as sent when it held no literal.
    const sent = report.overhead.find((o) => o.target === pg.attributes['chokepoint.target.name'])!.commands.map((c) => c.text).filter((t) => t.length < 160)
    expect(sent.length).toBeGreaterThan(3)
    for (const text of sent) expect(exported, text).toContain(normaliseSql(text))
    const literalFree = sent.filter((t) => !/'|\b\d+\b|--|\/\*/.test(t))
    expect(literalFree.length).toBeGreaterThan(0)
    for (const text of literalFree) expect(exported).toContain(text)
    expect([...exported].some((t) => /EXPLAIN \(FORMAT JSON\) SELECT relname FROM pg_class WHERE relname = \$1/.test(String(t)))).toBe(true)

    const redisClients = clients.filter((s) => s.attributes['db.system.name'] === 'redis')
    expect(redisClients.map((s) => s.attributes['db.operation.name'])).toContain('INFO')

    const raw = receiver.raw()
    for (const secret of [PG_PASSWORD, REDIS_PASSWORD, LITERAL]) expect(raw, secret).not.toContain(secret)
  })

  it('give check, capture and apply one root span each, named after the command', async () => {
    const pgUrl = `postgres://postgres@127.0.0.1:${PRIMARY_PORT}/postgres`
    const runs = [
      ['check', '--pg', pgUrl, '--window', '0'],
      ['capture', '--pg', pgUrl, '--window', '0', '-o', join(work, 'snap.json')],
      ['apply', '--pg', pgUrl, '--window', '0'],
    ]
    for (const args of runs) {
      receiver.reset()
      const result = await runCliAsync(args, {env: otelEnv({CHOKEPOINT_LOCK_DIR: work}), cwd: work})
      expect([0, 1, 3], `${args[0]}: ${result.stderr}`).toContain(result.status)
      expect(roots().map((r) => r.name)).toEqual([`chokepoint ${args[0]}`])
      expect(receiver.spans.some((s) => s.kind === CLIENT && s.attributes['db.system.name'] === 'postgresql')).toBe(true)
    }
  })

  it('send nothing when OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is none', async () => {
    const pgUrl = `postgres://postgres@127.0.0.1:${PRIMARY_PORT}/postgres`
    const offs: Array<Record<string, string>> = [{OTEL_SDK_DISABLED: 'true'}, {OTEL_TRACES_EXPORTER: 'none'}]
    for (const off of offs) {
      const result = await runCliAsync(['audit', '--pg', pgUrl, '--window', '0', '--format', 'json'], {env: otelEnv(off), cwd: work})
      expect([0, 1, 3], result.stderr).toContain(result.status)
      expect(JSON.parse(result.stdout).overhead.length).toBe(1)
      expect(receiver.bodies, JSON.stringify(off)).toEqual([])
    }
  })
})

describe('traces of an HTTP target', () => {
  it('time each request as a GET span with its path, and keep the basic-auth password out', async () => {
    const password = 'otel-prom-pass-5d1e'
    // A /metrics endpoint that answers after 80 ms: the GET span must last that long.
    const server = createServer((req, res) => {
      setTimeout(() => res.writeHead(200, {'content-type': 'text/plain'}).end('# TYPE up gauge\nup 1\nhttp_requests_total{code="200"} 5\n'), 80)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as AddressInfo).port
    try {
      const result = await runCliAsync(['audit', '--prometheus', `http://scraper:${password}@127.0.0.1:${port}/metrics`, '--window', '0', '--format', 'json'],
        {env: otelEnv(), cwd: work})
      expect([0, 1, 3], result.stderr).toContain(result.status)
      const gets = receiver.spans.filter((s) => s.kind === CLIENT && s.name === 'GET')
      expect(gets.length).toBeGreaterThan(0)
      for (const span of gets) {
        expect(span.attributes).toMatchObject({'http.request.method': 'GET', 'url.path': '/metrics', 'server.address': '127.0.0.1', 'server.port': port})
        expect(span.endMs - span.startMs).toBeGreaterThanOrEqual(70)
      }
      expect(receiver.raw()).not.toContain(password)
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
  })
})

describe('traces of watch', () => {
  it('have one root span per round, flushed when SIGTERM stops it', async () => {
    // A batch delay longer than the test: whatever arrives was sent by the shutdown that SIGTERM led to.
    const child = spawnCli(['watch', '--interval', '1s', '--listen', '127.0.0.1:0', '--pg', PG_URL, '--redis', redis.url],
      {env: otelEnv({OTEL_BSP_SCHEDULE_DELAY: '120000'})})
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.stdout.resume()
    const exit = new Promise<number | null>((resolve) => child.once('exit', resolve))
    const deadline = Date.now() + 45_000
    while (!/listening on/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    const listening = /listening on (http:\/\/\S+)/.exec(stderr)
    expect(listening, stderr).not.toBeNull()
    // Three rounds done (1 connects and takes baselines, 2 and 3 collect), as watch's own metrics count them.
    let done = 0
    while (done < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250))
      const metrics = await fetch(`${listening![1]}/metrics`).then((r) => r.text(), () => '')
      done = Number(/^chokepoint_audit_duration_seconds_count (\d+)/m.exec(metrics)?.[1] ?? 0)
    }
    expect(done).toBeGreaterThanOrEqual(3)
    expect(receiver.bodies).toEqual([])
    child.kill('SIGTERM')
    expect(await exit, stderr).toBe(0)

    const traced = roots().filter((r) => r.name === 'chokepoint watch').sort((a, b) => a.startMs - b.startMs)
    // Every round finished before SIGTERM reached the receiver (and the one under way, if any).
    expect(traced.length).toBeGreaterThanOrEqual(done)
    expect(traced.map((r) => r.attributes['chokepoint.watch.round'])).toEqual(traced.map((_, i) => i + 1))
    expect(new Set(traced.map((r) => r.traceId)).size).toBe(traced.length)
    const names = (round: ReceivedSpan) => receiver.children(round).flatMap((t) => receiver.children(t).map((s) => s.name))
    // The first round connects and takes baselines; later ones collect on the kept connections, without connecting.
    expect(names(traced[0])).toContain('connect')
    expect(names(traced[1])).not.toContain('connect')
    expect(names(traced[1])).toEqual(expect.arrayContaining(['probe postgres.statements', 'probe redis.info']))
    expect(receiver.spans.filter((s) => s.traceId === traced[1].traceId && s.kind === CLIENT).length).toBeGreaterThan(5)
    const raw = receiver.raw()
    for (const secret of [PG_PASSWORD, REDIS_PASSWORD]) expect(raw).not.toContain(secret)
  })
})
