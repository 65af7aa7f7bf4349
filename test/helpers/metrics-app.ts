/**
 * A small HTTP service instrumented the way real Node services are, for the Prometheus integration tests:
 * prom-client's default process metrics and an http_request_duration_seconds histogram (labels method, route,
 * status_code), routes that are fast, slow (600 ms) or failing (500), and optionally a real node-postgres Pool
 * whose totalCount/idleCount/waitingCount/max are exported as gauges (pg_pool_*), plus HikariCP-named gauges
 * with values the test sets. Each app has its own prom-client Registry, so several can run in one process.
 *
 * The OpenTelemetry variant (otel: true) records the same requests with @opentelemetry/sdk-metrics and serves
 * them through @opentelemetry/exporter-prometheus instead, so the metric names are the exporter's own.
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import pg from 'pg'
import client from 'prom-client'

export interface MetricsAppOptions {
  /** node-postgres Pool (max connections) against this URL, exported as pg_pool_* gauges; /db runs pg_sleep through it. */
  pool?: {url: string; max: number}
  /** Static HikariCP (Micrometer) gauges, as a JVM service would export them. */
  hikari?: {pool: string; active: number; idle: number; pending: number; max: number}
  /** Serve OpenTelemetry metrics (semconv: 'stable' = http.server.request.duration in s, 'old' = http.server.duration in ms). */
  otel?: 'stable' | 'old'
  /**
   * node_exporter-shaped CPU counters, node_cpu_seconds_total{host, mode="idle"|"user"}, one host per key with the
   * busy share (0..1) it starts at; setCpu changes it. The counters grow by wall time at the share set, so a rate
   * over any range reads the busy share the test held there, whatever the machine's own load.
   */
  cpuHosts?: Record<string, number>
}

export interface MetricsApp {
  url: string
  /** host:port, as a Prometheus scrape target. */
  hostPort: string
  pool?: pg.Pool
  hikari?: MetricsAppOptions['hikari']
  /** Sets a cpuHosts host's busy share from now on. */
  setCpu(host: string, busy: number): void
  stop(): Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

type Recorder = (route: string, status: number, seconds: number) => void

async function otelRecorder(semconv: 'stable' | 'old'): Promise<{record: Recorder; metrics: (req: IncomingMessage, res: ServerResponse) => void; shutdown: () => Promise<void>}> {
  const {MeterProvider} = await import('@opentelemetry/sdk-metrics')
  const {PrometheusExporter} = await import('@opentelemetry/exporter-prometheus')
  // preventServerStart: the app serves /metrics itself through the exporter's request handler.
  const exporter = new PrometheusExporter({preventServerStart: true})
  const provider = new MeterProvider({readers: [exporter]})
  const meter = provider.getMeter('metrics-app')
  const histogram = semconv === 'stable'
    ? meter.createHistogram('http.server.request.duration', {unit: 's', advice: {explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5]}})
    : meter.createHistogram('http.server.duration', {unit: 'ms', advice: {explicitBucketBoundaries: [5, 10, 25, 50, 100, 250, 500, 750, 1000, 2500, 5000]}})
  return {
    record: (route, status, seconds) => semconv === 'stable'
      ? histogram.record(seconds, {'http.route': route, 'http.request.method': 'GET', 'http.response.status_code': status})
      : histogram.record(seconds * 1000, {'http.route': route, 'http.method': 'GET', 'http.status_code': status}),
    metrics: (req, res) => exporter.getMetricsRequestHandler(req, res),
    shutdown: () => provider.shutdown(),
  }
}

export async function startMetricsApp(options: MetricsAppOptions = {}): Promise<MetricsApp> {
  const registry = new client.Registry()
  client.collectDefaultMetrics({register: registry})
  const histogram = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['method', 'route', 'status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5],
    registers: [registry],
  })
  let pool: pg.Pool | undefined
  if (options.pool) {
    pool = new pg.Pool({connectionString: options.pool.url, max: options.pool.max})
    pool.on('error', () => {})
    const p = pool
    const max = options.pool.max
    const gauge = (name: string, help: string, read: () => number) =>
      new client.Gauge({name, help, labelNames: ['pool'], registers: [registry], collect() {
        this.set({pool: 'main'}, read())
      }})
    gauge('pg_pool_total', 'node-postgres Pool totalCount', () => p.totalCount)
    gauge('pg_pool_idle', 'node-postgres Pool idleCount', () => p.idleCount)
    gauge('pg_pool_waiting', 'node-postgres Pool waitingCount', () => p.waitingCount)
    gauge('pg_pool_max', 'node-postgres Pool max (configuration)', () => max)
  }
  const hikari = options.hikari ? {...options.hikari} : undefined
  if (hikari) {
    for (const [suffix, field] of [['active', 'active'], ['idle', 'idle'], ['pending', 'pending'], ['max', 'max']] as const) {
      new client.Gauge({name: `hikaricp_connections_${suffix}`, help: `HikariCP ${suffix}`, labelNames: ['pool'], registers: [registry], collect() {
        this.set({pool: hikari.pool}, hikari[field])
      }})
    }
  }
  const cpu = new Map(Object.entries(options.cpuHosts ?? {}).map(([host, busy]) => [host, {busy, idle: 0, user: 0, at: performance.now()}]))
  const advanceCpu = () => {
    const now = performance.now()
    for (const c of cpu.values()) {
      const dt = (now - c.at) / 1000
      c.idle += dt * (1 - c.busy)
      c.user += dt * c.busy
      c.at = now
    }
  }
  if (cpu.size > 0) {
    new client.Gauge({name: 'node_cpu_seconds_total', help: 'CPU seconds by mode (node_exporter shape)', labelNames: ['host', 'mode'], registers: [registry], collect() {
      advanceCpu()
      for (const [host, c] of cpu) {
        this.set({host, mode: 'idle'}, c.idle)
        this.set({host, mode: 'user'}, c.user)
      }
    }})
  }
  const otel = options.otel ? await otelRecorder(options.otel) : undefined
  const record: Recorder = otel?.record ?? ((route, status, seconds) => histogram.observe({method: 'GET', route, status_code: String(status)}, seconds))

  const server: Server = createServer(async (req, res) => {
    const started = process.hrtime.bigint()
    const route = (req.url ?? '/').split('?')[0]
    const done = (status: number, body: string) => {
      res.writeHead(status, {'content-type': 'text/plain'}).end(body)
      if (route !== '/metrics') record(route, status, Number(process.hrtime.bigint() - started) / 1e9)
    }
    try {
      switch (route) {
        case '/metrics':
          if (otel) return otel.metrics(req, res)
          res.writeHead(200, {'content-type': registry.contentType}).end(await registry.metrics())
          return
        case '/fast':
          return done(200, 'ok')
        case '/slow':
          // 600 ms unless ?ms= asks for another duration (a few very slow requests for the p99 tail).
          await sleep(Number(new URL(req.url!, 'http://x').searchParams.get('ms') ?? '600'))
          return done(200, 'slow')
        case '/fail':
          return done(500, 'boom')
        case '/db': {
          if (!pool) return done(404, 'no pool')
          const seconds = Number(new URL(req.url!, 'http://x').searchParams.get('sleep') ?? '0.2')
          await pool.query('SELECT pg_sleep($1)', [seconds])
          return done(200, 'db')
        }
        default:
          return done(404, 'not found')
      }
    } catch (error) {
      done(500, String(error))
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    pool,
    hikari,
    setCpu(host, busy) {
      const c = cpu.get(host)
      if (!c) throw new Error(`no cpu host ${host}: start the app with cpuHosts`)
      advanceCpu()
      c.busy = busy
    },
    async stop() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await pool?.end().catch(() => {})
      await otel?.shutdown().catch(() => {})
    },
  }
}

/** Sends `count` GET requests to `path`, at most `concurrency` at a time (bounded load on loopback). */
export async function drive(app: MetricsApp, path: string, count: number, concurrency = 4): Promise<number[]> {
  const statuses: number[] = []
  let next = 0
  await Promise.all(Array.from({length: Math.min(concurrency, count)}, async () => {
    while (next < count) {
      next++
      const res = await fetch(`${app.url}${path}`)
      await res.text()
      statuses.push(res.status)
    }
  }))
  return statuses
}
