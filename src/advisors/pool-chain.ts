import type {Advisor, AdvisorContext, AdvisorFinding} from '../core/advisor.js'
import type {Proposed, PoolSizeRemedy} from '../core/remedies.js'
import type {Reading, Severity, Snapshot} from '../core/types.js'
import {readingsOf} from '../core/readings.js'
import {poolsReading, type PgBouncerPool} from '../readings/pgbouncer.js'
import {connectionsReading} from '../readings/postgres.js'
import {appPoolsReading} from '../readings/prometheus.js'

/**
 * The connection chain, budgeted end to end: application instances x app pool size <= PgBouncer's server pool
 * <= PostgreSQL max_connections minus the reserved slots (minus what other clients hold). No single tool joins
 * these: app pool gauges come from Prometheus, the pooler from SHOW POOLS, the database from pg_stat_activity.
 * Works from a snapshot alone. Where requests wait is read from the stages themselves: the deepest stage with a
 * queue is where the wait starts (a queue at PgBouncer backs up into the app pools above it).
 */

export type Stage = 'app pool' | 'pgbouncer' | 'postgres'

export interface AppService {
  target: string
  service: string
  pool: string
  instances: number
  /** The largest configured pool max across instances (null when no max gauge is exported). */
  poolSize: number | null
  waiting: number
}

export interface BouncerSide {
  target: string
  pools: PgBouncerPool[]
  /** Server connections PgBouncer may open: pool limit + reserve_pool, summed over the pools. */
  serverMax: number
  poolTotal: number
  opened: number
  waiting: number
  maxWaitSeconds: number
  maxClientConn: number
}

export interface PostgresSide {
  target: string
  maxConnections: number
  reserved: number
  usable: number
  used: number
}

export interface PoolChainOptions {
  /** Overrides when the app pool gauges are not scraped: instances of the app and its pool max. */
  instances?: number
  appPoolSize?: number
  /** For the HikariCP sizing hint (cores * 2 + spindles) on the database server. */
  dbCores?: number
  spindles?: number
}

const ok = (r: Reading) => r.status === 'ok'

export function readAppServices(readings: Reading[]): AppService[] {
  const byKey = new Map<string, AppService & {seen: Set<string>}>()
  for (const {reading} of readingsOf(readings, appPoolsReading)) {
    for (const m of reading.metrics.filter((x) => x.name === 'pool.clients_waiting')) {
      const e = (m.evidence ?? {}) as {service?: string; pool?: string; instance?: string; max?: number | null; clientsWaiting?: number}
      // Keyed by service and pool, not target: several /metrics targets of one app are its instances.
      const key = `${e.service}\u0000${e.pool}`
      let s = byKey.get(key)
      if (!s) {
        s = {target: reading.target, service: String(e.service), pool: String(e.pool), instances: 0, poolSize: null, waiting: 0, seen: new Set()}
        byKey.set(key, s)
      }
      if (!s.seen.has(String(e.instance))) {
        s.seen.add(String(e.instance))
        s.instances++
      }
      if (typeof e.max === 'number') s.poolSize = Math.max(s.poolSize ?? 0, e.max)
      s.waiting += e.clientsWaiting ?? 0
    }
  }
  return [...byKey.values()].map(({seen: _seen, ...s}) => s)
}

export function readBouncers(readings: Reading[]): BouncerSide[] {
  return readingsOf(readings, poolsReading).map(({reading: r, data}) => {
    const pools = data.pools
    return {
      target: r.target,
      pools,
      serverMax: pools.reduce((sum, p) => sum + p.limit + p.reservePool, 0),
      poolTotal: pools.reduce((sum, p) => sum + p.limit, 0),
      opened: pools.reduce((sum, p) => sum + p.svActive + p.svIdle + p.svUsed + p.svTested + p.svLogin, 0),
      waiting: pools.reduce((sum, p) => sum + p.clWaiting, 0),
      maxWaitSeconds: pools.reduce((max, p) => Math.max(max, p.maxWaitSeconds), 0),
      maxClientConn: data.config?.maxClientConn ?? 0,
    }
  })
}

/** The PostgreSQL target PgBouncer's pools point at (by host:port), else the only (or first primary) one. */
export function readPostgres(snapshot: Snapshot, bouncer?: BouncerSide): PostgresSide | undefined {
  const candidates = readingsOf(snapshot.readings, connectionsReading).map((r) => r.reading)
  const portOf = (target: string) => {
    const info = snapshot.targets.find((t) => t.name === target)
    try {
      const u = new URL(info?.url ?? '')
      return {host: u.hostname, port: Number(u.port || 5432), role: info?.facts?.role}
    } catch {
      return undefined
    }
  }
  const served = bouncer?.pools.map((p) => `${p.serverHost}:${p.serverPort}`) ?? []
  const reading = candidates.find((r) => {
    const at = portOf(r.target)
    return at && served.includes(`${at.host}:${at.port}`)
  }) ?? candidates.find((r) => portOf(r.target)?.role === 'primary') ?? candidates[0]
  const metric = reading?.metrics.find((m) => m.name === 'pool.utilization')
  if (!reading || !metric) return undefined
  const e = metric.evidence as {used: number; usable: number; maxConnections: number; reserved: number}
  return {target: reading.target, maxConnections: e.maxConnections, reserved: e.reserved, usable: e.usable, used: e.used}
}

export interface ChainPlan {
  severity: Severity
  waitSits: Stage
  waitObserved: boolean
  subject: string
  value: number
  message: string
  remedy: Proposed<PoolSizeRemedy>
  evidence: Record<string, unknown>
}

/**
 * The arithmetic. Returns undefined when the chain is within budget and nothing waits.
 * Proposal: PgBouncer's pool may grow to what the apps can ask for, but never past what PostgreSQL admits
 * (usable slots minus connections held outside this PgBouncer, minus reserve_pool); when that is still less
 * than the apps ask for, the app pools shrink to fit (instances x app pool <= PgBouncer pool).
 */
export function planChain(apps: AppService[], bouncer: BouncerSide | undefined, postgres: PostgresSide | undefined, options: PoolChainOptions = {}): ChainPlan | undefined {
  const sized = apps.filter((a) => a.poolSize !== null)
  const instances = options.instances ?? (sized.reduce((sum, a) => sum + a.instances, 0) || undefined)
  const appPoolSize = options.appPoolSize ?? (sized.length ? Math.max(...sized.map((a) => a.poolSize!)) : undefined)
  const appDemand = options.instances !== undefined || options.appPoolSize !== undefined
    ? (instances ?? 0) * (appPoolSize ?? 0)
    : sized.reduce((sum, a) => sum + a.instances * a.poolSize!, 0)
  const appWaiting = apps.reduce((sum, a) => sum + a.waiting, 0)
  const stages = [apps.length || options.instances ? 'app' : '', bouncer ? 'pgbouncer' : '', postgres ? 'postgres' : ''].filter(Boolean)
  if (stages.length < 2) return undefined

  // Connections PostgreSQL serves to clients that do not come through this PgBouncer (admins, jobs, us).
  const other = postgres && bouncer ? Math.max(0, postgres.used - bouncer.opened) : 0
  const pgBudget = postgres ? postgres.usable - other : undefined
  const nPools = Math.max(bouncer?.pools.length ?? 0, 1)
  const reservePerPool = bouncer && bouncer.pools.length ? Math.max(...bouncer.pools.map((p) => p.reservePool)) : 0
  const currentBouncerPool = bouncer && bouncer.pools.length ? Math.max(...bouncer.pools.map((p) => p.limit)) : undefined
  const poolsBelowCap = bouncer?.pools.some((p) => p.clWaiting > 0 && p.svActive + p.svIdle + p.svUsed + p.svTested + p.svLogin < p.limit) ?? false
  const pgFull = postgres ? postgres.used >= postgres.usable : false

  // Where requests queue, deepest stage first.
  let waitSits: Stage | undefined
  if (pgFull || poolsBelowCap) waitSits = 'postgres'
  else if (bouncer && bouncer.waiting > 0) waitSits = 'pgbouncer'
  else if (appWaiting > 0) waitSits = 'app pool'
  const waitObserved = waitSits !== undefined

  // The budget checks, upstream to downstream.
  const breaks: string[] = []
  let overStage: Stage | undefined
  let value = 0
  if (bouncer && appDemand > 0 && appDemand > bouncer.poolTotal) {
    breaks.push(`${instances} instances x ${appPoolSize} app pool = ${appDemand} > PgBouncer pool ${bouncer.poolTotal}`)
    overStage ??= 'pgbouncer'
    value = Math.max(value, appDemand / bouncer.poolTotal)
  }
  if (bouncer && bouncer.maxClientConn > 0 && appDemand > bouncer.maxClientConn) {
    breaks.push(`${appDemand} app connections > max_client_conn ${bouncer.maxClientConn} (refused)`)
  }
  if (bouncer && pgBudget !== undefined && bouncer.serverMax > pgBudget) {
    breaks.push(`PgBouncer may open ${bouncer.serverMax} > ${pgBudget} that PostgreSQL admits (${postgres!.usable} usable - ${other} held by other clients)`)
    overStage = 'postgres'
    value = Math.max(value, bouncer.serverMax / Math.max(pgBudget, 1))
  }
  if (!bouncer && postgres && appDemand > 0 && appDemand > postgres.usable) {
    breaks.push(`${instances} instances x ${appPoolSize} app pool = ${appDemand} > ${postgres.usable} usable PostgreSQL connections`)
    overStage = 'postgres'
    value = Math.max(value, appDemand / postgres.usable)
  }
  if (breaks.length === 0 && !waitObserved) return undefined

  // Proposal.
  let proposedBouncer = currentBouncerPool
  if (bouncer && currentBouncerPool !== undefined) {
    const perPoolBudget = pgBudget !== undefined ? Math.max(1, Math.floor(pgBudget / nPools) - reservePerPool) : Infinity
    // Enough servers for what the apps may ask, or, when the queue is observed at PgBouncer, for the clients
    // that were waiting at the sample (the pool plus its longest queue), whichever is larger.
    const queue = Math.max(0, ...bouncer.pools.map((p) => p.clWaiting))
    const wanted = Math.max(currentBouncerPool, appDemand > 0 ? Math.ceil(appDemand / nPools) : 0, waitSits === 'pgbouncer' ? currentBouncerPool + queue : 0)
    proposedBouncer = Math.min(wanted, perPoolBudget)
  }
  const downstream = bouncer ? (proposedBouncer ?? 0) * nPools : pgBudget
  let proposedApp = appPoolSize
  if (instances && appPoolSize && downstream !== undefined && instances * appPoolSize > downstream) {
    proposedApp = Math.max(1, Math.floor(downstream / instances))
  }
  const hint = options.dbCores ? options.dbCores * 2 + (options.spindles ?? 1) : undefined
  const arithmetic = [
    instances && appPoolSize ? `app: ${instances} instances x ${appPoolSize} = ${instances * appPoolSize}` : 'app: pool size unknown',
    bouncer ? `PgBouncer: ${bouncer.pools.length} pool(s) of ${currentBouncerPool} (+${reservePerPool} reserve), ${bouncer.waiting} waiting` : undefined,
    postgres ? `PostgreSQL: ${postgres.maxConnections} max_connections - ${postgres.reserved} reserved = ${postgres.usable} usable, ${postgres.used} used${bouncer ? `, ${other} outside PgBouncer` : ''}` : undefined,
  ].filter(Boolean).join('; ')
  const where = waitSits ?? overStage ?? 'pgbouncer'
  const proposal = [
    bouncer && proposedBouncer !== currentBouncerPool ? `set PgBouncer pool_size ${currentBouncerPool} -> ${proposedBouncer}` : undefined,
    proposedApp !== appPoolSize ? `set the app pool max ${appPoolSize} -> ${proposedApp} per instance` : undefined,
  ].filter(Boolean)
  const why = where === 'postgres'
    ? 'PostgreSQL is the limit: shorten transactions or add a replica for reads before adding connections'
    : where === 'pgbouncer' ? 'requests queue for a PgBouncer server connection' : 'requests queue inside the application pool'
  const summary = `${proposal.length ? `${proposal.join(' and ')}: ` : ''}${why} (${arithmetic})`

  const remedy: Proposed<PoolSizeRemedy> = {
    kind: 'pool-size',
    summary,
    instances: instances ?? null,
    appPoolSize: proposedApp ?? null,
    pgbouncerPoolSize: bouncer ? proposedBouncer ?? null : null,
    maxConnections: postgres?.maxConnections ?? null,
    reserved: postgres?.reserved ?? null,
    usable: postgres?.usable ?? null,
    otherConnections: postgres && bouncer ? other : null,
    waitSits: where,
    waitObserved,
    current: {appPoolSize: appPoolSize ?? null, pgbouncerPoolSize: currentBouncerPool ?? null, appDemand},
    arithmetic,
    sizingHint: hint
      ? {connections: hint, formula: `${options.dbCores} cores * 2 + ${options.spindles ?? 1} spindles`, source: 'HikariCP wiki, About Pool Sizing (a starting point, not a rule)'}
      : {formula: 'core_count * 2 + effective_spindle_count', source: 'HikariCP wiki, About Pool Sizing: set options.postgres.poolChain.dbCores to compute it'},
  }
  // Over budget and already queueing (or refusing connections) is critical; either one alone is a warning,
  // because a single sample of a queue, or a budget only a simultaneous peak would exhaust, may be benign.
  const severity: Severity = (breaks.length > 0 && waitObserved) || breaks.some((b) => b.includes('refused')) ? 'critical' : 'warning'
  const subject = [apps.length || options.instances ? 'app' : undefined, bouncer ? `pgbouncer ${bouncer.target}` : undefined, postgres ? `postgres ${postgres.target}` : undefined].filter(Boolean).join(' -> ')
  const message = breaks.length
    ? `connection chain over budget (${breaks.join('; ')}); ${waitObserved ? `requests are waiting at: ${where}` : `at peak requests would wait at: ${where}`}`
    : `requests are waiting at: ${where} although the chain is within budget (${arithmetic}): look at transaction time there`
  return {
    severity,
    waitSits: where,
    waitObserved,
    subject,
    value: value || (bouncer && bouncer.poolTotal ? appDemand / bouncer.poolTotal : 0),
    message,
    remedy,
    evidence: {
      instances: instances ?? null,
      appPoolSize: appPoolSize ?? null,
      appDemand,
      appWaiting,
      services: apps,
      pgbouncerPoolSize: currentBouncerPool ?? null,
      pgbouncerPools: bouncer?.pools.length ?? 0,
      pgbouncerWaiting: bouncer?.waiting ?? 0,
      pgbouncerMaxWaitSeconds: bouncer?.maxWaitSeconds ?? 0,
      maxClientConn: bouncer?.maxClientConn ?? null,
      maxConnections: postgres?.maxConnections ?? null,
      reserved: postgres?.reserved ?? null,
      usable: postgres?.usable ?? null,
      postgresUsed: postgres?.used ?? null,
      otherConnections: postgres && bouncer ? other : null,
      waitSits: where,
      waitObserved,
      breaks,
    },
  }
}

export const poolChainAdvisor: Advisor = {
  id: 'pool-chain',
  scope: 'stack',
  description: 'Budgets app pools x instances, PgBouncer pools and PostgreSQL max_connections together and says where requests wait',
  async advise(ctx: AdvisorContext): Promise<AdvisorFinding[]> {
    const options = (ctx.options.poolChain ?? {}) as PoolChainOptions
    const apps = readAppServices(ctx.readings)
    const bouncers = readBouncers(ctx.readings)
    const out: AdvisorFinding[] = []
    // One chain per PgBouncer (each with the PostgreSQL it fronts); without a PgBouncer, app -> PostgreSQL.
    for (const bouncer of bouncers.length ? bouncers : [undefined]) {
      const plan = planChain(apps, bouncer, readPostgres(ctx.snapshot, bouncer), options)
      if (!plan) continue
      out.push({
        rule: 'pool/chain-budget',
        severity: plan.severity,
        target: bouncer?.target ?? 'stack',
        subject: plan.subject,
        metric: 'pool.chain',
        value: plan.value,
        message: plan.message,
        evidence: plan.evidence,
        remedies: [plan.remedy],
      })
    }
    return out
  },
}
