import {ProbeSkip} from '../../core/errors.js'
import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PrometheusSession, PromSample} from '../../drivers/prometheus.js'
import {settings} from './queries.js'

/**
 * Which series give an application pool's numbers. There is no standard for node-postgres (its Pool only has
 * totalCount, idleCount and waitingCount; exporters name them as they like, and `max` is configuration), so
 * several conventions are tried; HikariCP's Micrometer and native-tracker names and the OpenTelemetry
 * db.client.connection.* conventions are fixed. In use = active, or total - idle when only those exist.
 */
export interface PoolFlavour {
  name: string
  active?: string
  total?: string
  idle?: string
  waiting: string
  max?: string
  /** The label that names the pool (HikariCP `pool`), part of the subject. */
  poolLabel?: string
}

export const DEFAULT_FLAVOURS: PoolFlavour[] = [
  {name: 'node-postgres pg_pool_*', total: 'pg_pool_total', idle: 'pg_pool_idle', waiting: 'pg_pool_waiting', max: 'pg_pool_max', poolLabel: 'pool'},
  {name: 'node-postgres pg_pool_*_count', total: 'pg_pool_total_count', idle: 'pg_pool_idle_count', waiting: 'pg_pool_waiting_count', max: 'pg_pool_max', poolLabel: 'pool'},
  {name: 'HikariCP (Micrometer) hikaricp_connections_*', active: 'hikaricp_connections_active', idle: 'hikaricp_connections_idle', waiting: 'hikaricp_connections_pending', max: 'hikaricp_connections_max', poolLabel: 'pool'},
  {name: 'HikariCP (native tracker) hikaricp_*_connections', active: 'hikaricp_active_connections', idle: 'hikaricp_idle_connections', waiting: 'hikaricp_pending_threads', max: 'hikaricp_max_connections', poolLabel: 'pool'},
  {
    name: 'OpenTelemetry db_client_connection_*',
    active: 'db_client_connection_count{db_client_connection_state="used"}',
    idle: 'db_client_connection_count{db_client_connection_state="idle"}',
    waiting: 'db_client_connection_pending_requests',
    max: 'db_client_connection_max',
    poolLabel: 'db_client_connection_pool_name',
  },
]

/** Labels that tell series of one pool apart from its other gauges' series: dropped before joining. */
const STATE_LABELS = new Set(['__name__', 'state', 'db_client_connection_state'])

function key(sample: PromSample): string {
  return JSON.stringify(Object.entries(sample.labels).filter(([k]) => !STATE_LABELS.has(k)).sort())
}

/** `name{label="value",...}`: a metric name with equality matchers, the only form a /metrics endpoint can answer. */
function matchSelector(selector: string, samples: PromSample[]): PromSample[] {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?$/.exec(selector.trim())
  if (!m) throw new Error(`app pool selector ${selector}: a /metrics endpoint can only answer name{label="value"} selectors`)
  const matchers = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]])
  return samples.filter((s) => s.labels.__name__ === m[1] && matchers.every(([k, v]) => s.labels[k] === v))
}

async function read(session: PrometheusSession, selector: string | undefined): Promise<Map<string, PromSample> | undefined> {
  if (!selector) return undefined
  const samples = session.mode === 'server' ? await session.query(selector) : matchSelector(selector, await session.scrape())
  return new Map(samples.map((s) => [key(s), s]))
}

/** The flavour from the user's `queries.pool*` (PromQL on a server, selectors on /metrics), if any are set. */
function customFlavour(queries: Record<string, string | undefined>): PoolFlavour | undefined {
  if (!queries.poolWaiting && !queries.poolActive && !queries.poolTotal) return undefined
  return {
    name: 'options.queries.pool*',
    active: queries.poolActive,
    total: queries.poolTotal,
    idle: queries.poolIdle,
    waiting: queries.poolWaiting ?? 'vector(0)',
    max: queries.poolMax,
  }
}

export const appPoolsProbe: Probe<PrometheusSession> = {
  id: 'prometheus.app-pools',
  kind: 'prometheus',
  description: 'Application connection pools (node-postgres, HikariCP, OpenTelemetry gauges): in use over max, and waiting requests',
  async collect(session, ctx): Promise<ProbeOutput> {
    const s = settings(ctx)
    const custom = customFlavour(s.queries)
    const flavours = custom ? [custom] : DEFAULT_FLAVOURS
    const fallbackMax = typeof ctx.options.appPoolMax === 'number' ? ctx.options.appPoolMax : undefined
    // Every convention that has series is read: one Prometheus often scrapes Node and JVM services side by side.
    const metrics: Metric[] = []
    const pools: Array<Record<string, unknown> & {subject: string; max: number | null}> = []
    const matched: string[] = []
    for (const flavour of flavours) {
      const waiting = await read(session, flavour.waiting)
      const active = await read(session, flavour.active)
      const total = await read(session, flavour.total)
      if (!waiting?.size && !active?.size && !total?.size) continue
      matched.push(flavour.name)
      const idle = await read(session, flavour.idle)
      const max = await read(session, flavour.max)
      const keys = new Set([...(active ?? total ?? new Map()).keys(), ...(waiting ?? new Map()).keys()])
      for (const k of keys) {
        const labels = (active?.get(k) ?? total?.get(k) ?? waiting?.get(k))!.labels
        const idleCount = idle?.get(k)?.value
        const inUse = active?.get(k)?.value ?? (total?.get(k) && idleCount !== undefined ? total.get(k)!.value - idleCount : undefined)
        const poolMax = max?.get(k)?.value ?? fallbackMax
        const pool = (flavour.poolLabel && labels[flavour.poolLabel]) || labels.job || ctx.target.name
        // A bare /metrics scrape has no job/instance labels (Prometheus adds them): the endpoint is the instance.
        const instance = labels.instance ?? (session.mode === 'scrape' ? session.baseUrl.host : '')
        const service = labels.job ?? pool
        const subject = `app pool ${service === pool ? pool : `${service} ${pool}`}${instance ? `/${instance}` : ''}`
        const evidence = {
          flavour: flavour.name,
          service,
          pool,
          instance,
          inUse: inUse ?? null,
          idleConnections: idleCount ?? null,
          max: poolMax ?? null,
          clientsWaiting: waiting?.get(k)?.value ?? 0,
        }
        pools.push({subject, ...evidence})
        if (inUse !== undefined && poolMax) metrics.push({name: 'pool.utilization', subject, value: inUse / poolMax, evidence})
        metrics.push({name: 'pool.clients_waiting', subject, value: evidence.clientsWaiting, evidence})
      }
    }
    if (matched.length > 0) {
      const noMax = pools.filter((p) => p.max === null).map((p) => p.subject)
      return {
        data: {matched, pools, ...(noMax.length ? {limitation: `no pool max for ${noMax.join(', ')}: export it (e.g. pg_pool_max) or set options.prometheus.appPoolMax`} : {})},
        metrics,
      }
    }
    // Unlike the HTTP metrics, not every service has a database pool: absent gauges mean "not applicable".
    if (custom) throw new Error('app pool queries (options.prometheus.queries.pool*) returned no series')
    throw new ProbeSkip(`no application pool gauges found (tried ${DEFAULT_FLAVOURS.map((f) => f.name).join('; ')}): set options.prometheus.queries.poolActive/poolWaiting/poolMax to read others`)
  },
}
