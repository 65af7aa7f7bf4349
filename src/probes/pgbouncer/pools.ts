import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgBouncerSession} from '../../drivers/pgbouncer.js'

/** PgBouncer reports counters as text or int8 strings depending on the version; missing columns count as 0. */
export function n(value: unknown): number {
  if (value === null || value === undefined || value === '') return 0
  const parsed = typeof value === 'number' ? value : Number(value)
  return Number.isFinite(parsed) ? parsed : 0
}

/** SHOW CONFIG as a key -> value map (columns key, value[, default], changeable across versions). */
export function configMap(rows: Array<Record<string, unknown>>): Record<string, string> {
  return Object.fromEntries(rows.map((r) => [String(r.key), String(r.value ?? '')]))
}

/** The admin console's own pseudo-pool is not part of anyone's stack. */
export const isAdminPool = (database: unknown) => database === 'pgbouncer'

export interface PgBouncerPool {
  database: string
  user: string
  /** Where the pool's server connections go (SHOW DATABASES host, port): joins it to a PostgreSQL target. */
  serverHost: string
  serverPort: number
  poolMode: string
  clActive: number
  clWaiting: number
  svActive: number
  svIdle: number
  svUsed: number
  svTested: number
  svLogin: number
  maxWaitSeconds: number
  poolSize: number
  reservePool: number
  /** The smallest server-connection cap for this pool: pool_size, or max_db_connections / max_user_connections if lower. */
  limit: number
  limitedBy: 'pool_size' | 'database max_connections' | 'max_db_connections' | 'max_user_connections'
}

/**
 * SHOW POOLS, with each pool's size from SHOW DATABASES (pool_size, already resolved from default_pool_size on
 * the versions we know) and the global caps from SHOW CONFIG. Three SHOWs, one connection, no parameters.
 *
 * What "in use" means here: in transaction pooling a server connection serves a client only while that
 * client's transaction runs (sv_active). sv_idle / sv_used are open and free for the next transaction, and
 * sv_tested / sv_login are being checked or logged in, so they cannot take a transaction this instant either.
 * pool.utilization is therefore (sv_active + sv_tested + sv_login) / limit: the share of the cap a new
 * transaction cannot get right now. The opened count (all five sv_* states) is kept as evidence `opened`:
 * PgBouncer reuses the most recent server first, so it is the recent peak concurrency, until idle servers
 * close after server_idle_timeout. In session pooling sv_active also holds sessions that are idle in the
 * application, which is the cost of session mode, not a measuring error.
 */
export const poolsProbe: Probe<PgBouncerSession> = {
  id: 'pgbouncer.pools',
  kind: 'pgbouncer',
  description: 'SHOW POOLS against pool_size: server connections in use, waiting clients and the oldest wait',
  async collect(session): Promise<ProbeOutput> {
    const poolRows = await session.show('POOLS')
    const databaseRows = await session.show('DATABASES')
    const config = configMap(await session.show('CONFIG'))
    const defaultPoolSize = n(config.default_pool_size) || 20
    const maxDbConnections = n(config.max_db_connections)
    const maxUserConnections = n(config.max_user_connections)
    const databases = new Map(databaseRows.map((d) => [String(d.name), d]))

    const pools: PgBouncerPool[] = poolRows.filter((r) => !isAdminPool(r.database)).map((r) => {
      const db = databases.get(String(r.database))
      // An unset per-database pool_size can show as empty, 0 or -1 depending on the version: use the default then.
      const poolSize = n(db?.pool_size) > 0 ? n(db?.pool_size) : defaultPoolSize
      const caps: Array<[number, PgBouncerPool['limitedBy']]> = [
        [poolSize, 'pool_size'],
        [n(db?.max_connections), 'database max_connections'],
        [maxDbConnections, 'max_db_connections'],
        [maxUserConnections, 'max_user_connections'],
      ]
      const [limit, limitedBy] = caps.filter(([cap]) => cap > 0).reduce((a, b) => (b[0] < a[0] ? b : a))
      return {
        database: String(r.database),
        user: String(r.user),
        serverHost: String(db?.host ?? ''),
        serverPort: n(db?.port),
        poolMode: String(r.pool_mode || db?.pool_mode || config.pool_mode || 'session'),
        clActive: n(r.cl_active),
        clWaiting: n(r.cl_waiting),
        svActive: n(r.sv_active),
        svIdle: n(r.sv_idle),
        svUsed: n(r.sv_used),
        svTested: n(r.sv_tested),
        svLogin: n(r.sv_login),
        // maxwait is whole seconds and maxwait_us the microsecond part (1.8+); older versions have only maxwait.
        maxWaitSeconds: n(r.maxwait) + n(r.maxwait_us) / 1e6,
        poolSize,
        reservePool: n(db?.reserve_pool ?? db?.reserve_pool_size),
        limit,
        limitedBy,
      }
    })

    const metrics: Metric[] = []
    for (const p of pools) {
      const subject = `pgbouncer ${p.database}/${p.user}`
      const inUse = p.svActive + p.svTested + p.svLogin
      const opened = inUse + p.svIdle + p.svUsed
      const evidence = {
        database: p.database,
        user: p.user,
        poolMode: p.poolMode,
        inUse,
        opened,
        limit: p.limit,
        limitedBy: p.limitedBy,
        poolSize: p.poolSize,
        reservePool: p.reservePool,
        svActive: p.svActive,
        svIdle: p.svIdle,
        svUsed: p.svUsed,
        svTested: p.svTested,
        svLogin: p.svLogin,
        clientsActive: p.clActive,
        clientsWaiting: p.clWaiting,
        maxWaitSeconds: p.maxWaitSeconds,
        peakRatio: opened / p.limit,
      }
      metrics.push(
        {name: 'pool.utilization', subject, value: inUse / p.limit, evidence},
        {name: 'pool.clients_waiting', subject, value: p.clWaiting, evidence},
        {name: 'pool.max_wait_seconds', subject, value: p.maxWaitSeconds, evidence},
      )
    }
    return {
      data: {
        pools,
        config: {
          poolMode: config.pool_mode,
          defaultPoolSize,
          maxClientConn: n(config.max_client_conn),
          maxDbConnections,
          maxUserConnections,
          reservePoolSize: n(config.reserve_pool_size),
          reservePoolTimeoutSeconds: n(config.reserve_pool_timeout),
          queryWaitTimeoutSeconds: n(config.query_wait_timeout),
          serverIdleTimeoutSeconds: n(config.server_idle_timeout),
        },
        clientConnections: poolRows.reduce((sum, r) => sum + n(r.cl_active) + n(r.cl_waiting), 0),
      },
      metrics,
    }
  },
}
