/**
 * The production-safety promise under network faults: a target whose wire stalls (right after the connect, or
 * halfway through an answer) or is reset in the middle of the window degrades to "error: why" within its budget,
 * and the rest of the audit is reported on time. Each case runs the built CLI (`npm run build` first) against a
 * real server of each kind behind a fault proxy this test controls, next to a healthy PostgreSQL.
 */
import amqp from 'amqplib'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'
import {TARGET_ALLOWANCE_MS} from '../../../src/core/capture.js'
import type {Report} from '../../../src/core/types.js'
import {runCliAsync, type TimedCliResult} from '../../helpers/cli.js'
import {startFaultProxy, type ChunkMatcher, type FaultProxy} from '../../helpers/fault-proxy.js'
import {PRIMARY_PORT, PRIMARY_URL} from '../../helpers/pg.js'
import {freePort} from '../../helpers/process.js'
import {startPrometheus} from '../../helpers/prometheus-server.js'
import {startRedis} from '../../helpers/redis-server.js'

const tmp = mkdtempSync(join(tmpdir(), 'chokepoint-faults-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

/** The documented budget of a target (docs/design.md section 7): the window plus the fixed allowance. */
const budgetMs = (windowSeconds: number) => windowSeconds * 1000 + TARGET_ALLOWANCE_MS
/** Generous on purpose: the point is "bounded", the wire deadlines end these runs far sooner (printed below). */
const limitMs = (windowSeconds: number) => budgetMs(windowSeconds) + 5000

interface Backend {
  kind: 'postgres' | 'redis' | 'rabbitmq' | 'nats' | 'prometheus'
  /** The case's name when a kind is tried two ways. */
  label?: string
  /** The real server: its port, and the target URL and options for chokepoint (the URL is rewritten to the proxy). */
  start(): Promise<{port: number; url: string; options?: Record<string, unknown>; stop?: () => Promise<void>}>
  /** The first request a probe sends once the driver has connected. */
  firstRequest: ChunkMatcher
  /** Whether this kind's probes take baselines, so a window is waited (Prometheus reads instant values once). */
  hasWindow: boolean
}

const AMQP_QUEUE = 'cp_dl_faults'

const backends: Backend[] = [
  {
    kind: 'postgres',
    // statement_timeout 2 s: the client's deadline per query is 2 s + 2 s.
    start: async () => ({port: PRIMARY_PORT, url: PRIMARY_URL, options: {statementTimeoutMs: 2000, connectTimeoutMs: 3000}}),
    // Any query after the session setup batch.
    firstRequest: (chunk) => /SELECT/i.test(chunk) && !chunk.includes('SET application_name'),
    hasWindow: true,
  },
  {
    kind: 'redis',
    start: async () => {
      const server = await startRedis()
      return {port: server.port, url: server.url, stop: () => server.stop()}
    },
    // redis.info's INFO (no section); the driver's own connect sends `info` (ready check) and `INFO server`.
    firstRequest: /^\*1\r\n\$4\r\nINFO\r\n/,
    hasWindow: true,
  },
  {
    kind: 'rabbitmq',
    // The management API through the proxy (the URL names it); AMQP is not needed while the API answers.
    start: async () => ({port: 15672, url: 'http://guest:guest@127.0.0.1:15672', options: {timeoutMs: 3000}}),
    firstRequest: /^GET \/api\/queues\//,
    hasWindow: true,
  },
  {
    kind: 'rabbitmq',
    label: 'rabbitmq over AMQP',
    // No management API (its URL is a closed port): the queue is read by passive declares over AMQP, through the proxy.
    start: async () => {
      const channelModel = await amqp.connect('amqp://guest:guest@127.0.0.1:5672')
      const ch = await channelModel.createChannel()
      await ch.assertQueue(AMQP_QUEUE, {durable: false})
      await channelModel.close()
      return {
        port: 5672,
        url: 'amqp://guest:guest@127.0.0.1:5672',
        options: {timeoutMs: 3000, managementUrl: `http://127.0.0.1:${await freePort()}`, queues: [AMQP_QUEUE]},
        stop: async () => {
          const c = await amqp.connect('amqp://guest:guest@127.0.0.1:5672')
          await (await c.createChannel()).deleteQueue(AMQP_QUEUE)
          await c.close()
        },
      }
    },
    // The first frame on channel 1 (channel.open): the connection's handshake is all on channel 0.
    firstRequest: (chunk) => chunk.startsWith('\x01\x00\x01'),
    hasWindow: true,
  },
  {
    kind: 'nats',
    start: async () => ({port: 4222, url: 'nats://127.0.0.1:4222', options: {timeoutMs: 3000}}),
    firstRequest: /\$JS\.API\./,
    hasWindow: true,
  },
  {
    kind: 'prometheus',
    start: async () => {
      // Its scrape target is down: the instant queries still have a server to answer them.
      const server = await startPrometheus('127.0.0.1:1')
      return {port: Number(new URL(server.url).port), url: server.url, options: {timeoutMs: 3000}, stop: () => server.stop()}
    },
    firstRequest: /^GET \/api\/v1\/query\?/,
    hasWindow: false,
  },
]

/** Starts the backend behind a fault proxy; writes a config with it as "faulty" and the primary as "healthy". */
async function setUp(backend: Backend, name: string): Promise<{proxy: FaultProxy; config: string}> {
  const server = await backend.start()
  if (server.stop) cleanups.push(server.stop)
  const proxy = await startFaultProxy({port: server.port})
  cleanups.push(() => proxy.close())
  const config = join(tmp, `${name.replace(/\W+/g, '-')}.yaml`)
  writeFileSync(config, stringify({targets: [
    {name: 'faulty', kind: backend.kind, url: proxy.url(server.url), ...(server.options ? {options: server.options} : {})},
    {name: 'healthy', kind: 'postgres', url: PRIMARY_URL},
  ]}))
  return {proxy, config}
}

function audit(config: string, windowSeconds: number): Promise<TimedCliResult> {
  // --fail-on never: the shared primary's findings must not turn "incomplete" (3) into a failed gate (1).
  return runCliAsync(['audit', '--config', config, '--window', String(windowSeconds), '--json', '--fail-on', 'never'],
    {timeoutMs: limitMs(windowSeconds) + 10_000})
}

/** Bounded, exit 3, the healthy target reported in full, nothing left holding the process; returns the report. */
function expectDegraded(result: TimedCliResult, windowSeconds: number, label: string): Report {
  const summary = (() => {
    try {
      return faultyErrors(JSON.parse(result.stdout) as Report).slice(0, 2).join(' | ')
    } catch {
      return 'no report'
    }
  })()
  process.stderr.write(`[faults] ${label}: ${(result.ms / 1000).toFixed(1)} s, exit ${result.status}${result.killed ? ' (killed)' : ''}: ${summary}\n`)
  expect(result.killed, `still running after ${limitMs(windowSeconds) + 10_000} ms`).toBe(false)
  expect(result.ms).toBeLessThan(limitMs(windowSeconds))
  expect(result.status, result.stderr).toBe(3)
  // The drivers dropped what they opened: the exit watchdog had nothing to end.
  expect(result.stderr).not.toMatch(/still running .* after the command finished/)
  const report = JSON.parse(result.stdout) as Report
  const healthy = report.targets.find((t) => t.name === 'healthy')
  expect(healthy?.status).toBe('ok')
  expect(report.skipped.filter((s) => s.target === 'healthy' && s.status === 'error')).toEqual([])
  expect(report.checks.some((c) => c.target === 'healthy' && c.status !== 'not-evaluated')).toBe(true)
  return report
}

function faultyErrors(report: Report): string[] {
  return report.skipped.filter((s) => s.target === 'faulty' && s.status === 'error').map((s) => `${s.probe}: ${s.reason}`)
}

const caseTimeout = (windowSeconds: number) => limitMs(windowSeconds) + 30_000

describe.each(backends.map((b) => ({...b, label: b.label ?? b.kind})))('$label behind a faulty wire', (backend) => {
  it('stalls right after the connect: the first probe errors naming its stage, within the budget', async () => {
    const {proxy, config} = await setUp(backend, `${backend.label}-stall-after-connect`)
    proxy.when(backend.firstRequest, () => proxy.stall())
    const report = expectDegraded(await audit(config, 0), 0, `${backend.label} stall after connect`)
    expect(proxy.fired).toHaveLength(1)
    expect(report.targets.find((t) => t.name === 'faulty')?.status).toBe('ok')
    const errors = faultyErrors(report)
    expect(errors.some((e) => /stalled in collect: no answer/.test(e)), errors.join('\n')).toBe(true)
  }, caseTimeout(0))

  it('stalls halfway through an answer: the reading errors naming its stage, within the budget', async () => {
    const {proxy, config} = await setUp(backend, `${backend.label}-stall-mid-result`)
    // The answer to the first probe request arrives, all but its last bytes.
    proxy.when(backend.firstRequest, () => proxy.stall({holdBack: 4}))
    const report = expectDegraded(await audit(config, 0), 0, `${backend.label} stall mid-result`)
    expect(proxy.fired).toHaveLength(1)
    const errors = faultyErrors(report)
    expect(errors.some((e) => /stalled in collect: no answer/.test(e)), errors.join('\n')).toBe(true)
  }, caseTimeout(0))

  it('is reset in the middle of the window: the collects error, within the budget', async () => {
    const windowSeconds = 2
    const {proxy, config} = await setUp(backend, `${backend.label}-reset-mid-window`)
    // 0.5 s after the first baseline was sent, the target is in its window's sleep; Prometheus has no window, so its
    // connections are reset at its first query.
    proxy.when(backend.firstRequest, () => (backend.hasWindow ? setTimeout(() => proxy.reset(), 500) : proxy.reset()))
    const report = expectDegraded(await audit(config, windowSeconds), windowSeconds, `${backend.label} reset mid-window`)
    expect(proxy.fired).toHaveLength(1)
    expect(faultyErrors(report).length).toBeGreaterThan(0)
  }, caseTimeout(2))
})
