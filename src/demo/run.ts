/**
 * `chokepoint demo`: the whole job on a stack it builds itself. An embedded PostgreSQL with a seeded shop
 * and a leaky application in front of it (plus Redis caches and queues when a Redis answers), audited live
 * by the same runAudit as `chokepoint audit`, then torn down. Nothing in the audit knows it is a demo:
 * every finding comes from the server's own statistics.
 */
import {randomBytes} from 'node:crypto'
import type pg from 'pg'
import {runAudit} from '../core/audit.js'
import type {ChokepointConfig} from '../core/config.js'
import {errorMessage} from '../core/errors.js'
import {loadRules} from '../core/rules.js'
import type {Report, Snapshot, TargetSpec} from '../core/types.js'
import type {CliContext} from '../cli/context.js'
import {startEmbeddedServer, type EmbeddedServer} from './embedded-server.js'
import {checkMysql, DEFAULT_MYSQL_URL, seedMysqlPart, type MysqlPart} from './mariadb-part.js'
import {checkRedis, DEFAULT_REDIS_URL, deleteKeysWithPrefix, seedRedisPart, type RedisPart} from './redis-part.js'
import * as shop from './shop.js'

export interface DemoOptions {
  /** The run's registry and secrets. */
  context: CliContext
  /** Leave the server running (seeded) after the report, and print how to reach and stop it. */
  keep: boolean
  /** Redis to add to the demo; default REDIS_URL, else redis://127.0.0.1:6379. */
  redisUrl?: string
  /** MySQL or MariaDB to add to the demo; default MYSQL_URL, else mysql://root@127.0.0.1:3306. */
  mysqlUrl?: string
  /** Progress lines (stderr). */
  progress: (line: string) => void
  /** Renders and writes the report in the formats asked for (stdout and files); the snapshot feeds the HTML charts. */
  writeReport: (report: Report, snapshot: Snapshot) => Promise<void>
}

export interface DemoResult {
  report: Report
  timings: Record<string, number>
  /** Seconds from process start to the report being written. */
  secondsToReport: number
  /**
   * With --keep: how to reach and stop the server. Its URL holds the demo's password, which the scrubbing
   * progress logger would hide, so the caller prints this as is.
   */
  keptMessage?: string
}

/** The forgotten transaction must be older than the 10 s target of database/idle-in-transaction to show. */
const IDLE_TRANSACTION_MIN_AGE_S = 11
const WORKLOAD_CONNECTIONS = 3
/** Sessions besides the idle pool during the audit: the forgotten transaction and the auditor itself. */
const OTHER_SESSIONS_DURING_AUDIT = 2
const UNUSED_INDEX_RULE = 'database/unused-index'

const seconds = (ms: number) => Math.round(ms / 100) / 10

/** Rule overrides the demo needs because its statistics are minutes old, not weeks; each is announced. */
function demoConfig(progress: (line: string) => void): ChokepointConfig {
  const rule = loadRules().find((r) => r.id === UNUSED_INDEX_RULE)
  if (!rule) return {}
  const usual = rule.when?.statsAgeSeconds
  progress(`note: ${UNUSED_INDEX_RULE} judges an index unused only once statistics are ${usual ? `${usual.replace(/^>=\s*/, '')} ` : ''}old;`
    + ' the demo\'s are seconds old, so the demo lowers that to 0 (your audits keep the default)')
  // Its companion for young statistics would say the same index a second time, as info.
  return {rules: {[UNUSED_INDEX_RULE]: {when: {statsAgeSeconds: '>= 0'}}, [`${UNUSED_INDEX_RULE}-young`]: 'off'}}
}

/**
 * Runs the demo. On SIGINT/SIGTERM it stops the server, closes its connections, removes the temporary
 * directory and exits with 130/143; otherwise it returns once the report is written.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const {progress} = options
  const timings: Record<string, number> = {}
  let stepStarted = Date.now()
  const step = (name: string) => {
    timings[name] = seconds(Date.now() - stepStarted)
    stepStarted = Date.now()
  }

  let server: EmbeddedServer | undefined
  let redis: RedisPart | undefined
  let mysql: MysqlPart | undefined
  /** Set before seeding starts, so that an interrupted seed is still cleaned up. */
  let redisKeys: {url: string; prefix: string} | undefined
  const clients: pg.Client[] = []
  let cancelled = false
  let cleaning: Promise<void> | undefined
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      cancelled = true
      await shop.closeAll(clients)
      if (redis) await redis.cleanup().catch(() => {})
      else if (redisKeys) await deleteKeysWithPrefix(redisKeys.url, redisKeys.prefix).catch(() => 0)
      await mysql?.cleanup().catch(() => {})
      await server?.stop()
    })()
    return cleaning
  }
  let interrupted: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      progress('still stopping the demo server…')
      return
    }
    interrupted = signal
    progress(`${signal}: stopping the demo server${server ? ` and removing ${server.rootDir}` : ''}`)
    cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  try {
    progress('starting an embedded PostgreSQL (initdb in a temporary directory)…')
    server = await startEmbeddedServer({
      log: progress,
      settings: {shared_preload_libraries: 'pg_stat_statements', max_connections: 100},
    })
    step('server')
    progress(`PostgreSQL ${server.version} on 127.0.0.1:${server.port}${server.account ? ` as user ${server.account.name}` : ''}, data in ${server.rootDir} (${timings.server} s)`)

    const shopUrl = server.url(shop.SHOP_DATABASE)
    await shop.createShopDatabase(server.url('postgres'))
    await shop.createShopSchema(shopUrl)
    const idle = await shop.openIdleTransaction(shopUrl)
    clients.push(idle.client)
    progress('seeding the shop: 20k customers, 120k orders, 240k order lines, 60k sessions…')
    await shop.seedShopRows(shopUrl)
    step('seed')
    progress(`seeded in ${timings.seed} s`)

    const redisUrl = options.redisUrl ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL
    const redisCheck = await checkRedis(redisUrl)
    if (redisCheck.ok) {
      const prefix = `chokepoint-demo-${randomBytes(4).toString('hex')}`
      redisKeys = {url: redisUrl, prefix}
      progress(`Redis: reachable at ${options.context.secrets.redactUrl(redisUrl)}; seeding the cache and queues under keys containing ${prefix}`)
      try {
        redis = await seedRedisPart(redisUrl, prefix, progress)
        for (const line of redis.seeded) progress(`Redis: ${line}`)
      } catch (error) {
        if (interrupted) throw error
        // The PostgreSQL half stands on its own: a Redis that refuses writes (replica, ACL) only shortens the demo.
        progress(`Redis: seeding failed (${errorMessage(error).split('\n')[0]}), skipping the cache and queue part`)
      }
      step('redis')
    } else {
      progress(`Redis: not reachable at ${options.context.secrets.redactUrl(redisUrl)} (${redisCheck.reason}), skipping the cache and queue part`)
    }

    const mysqlUrl = options.mysqlUrl ?? process.env.MYSQL_URL ?? DEFAULT_MYSQL_URL
    const shownMysql = options.context.secrets.redactUrl(mysqlUrl)
    const mysqlCheck = await checkMysql(mysqlUrl)
    if (mysqlCheck.ok) {
      progress(`MySQL/MariaDB: ${mysqlCheck.version} reachable at ${shownMysql}; creating a demo database (dropped afterwards)`)
      try {
        mysql = await seedMysqlPart(mysqlUrl)
        for (const line of mysql.planted) progress(`MySQL/MariaDB: ${line}`)
      } catch (error) {
        if (interrupted) throw error
        progress(`MySQL/MariaDB: seeding failed (${options.context.secrets.scrub(errorMessage(error).split('\n')[0])}), skipping that part`)
      }
      step('mysql')
    } else {
      progress(`MySQL/MariaDB: not reachable at ${shownMysql} (${options.context.secrets.scrub(mysqlCheck.reason)}), skipping that part`)
    }

    const pool = await shop.idleSessionsForCriticalPool(shopUrl, OTHER_SESSIONS_DURING_AUDIT)
    const agedIn = Math.max(0, IDLE_TRANSACTION_MIN_AGE_S - (Date.now() - idle.openedAt) / 1000)
    progress(`running the shop's workload on ${WORKLOAD_CONNECTIONS} connections while its web tier opens ${pool.count} idle sessions`
      + ` (max_connections ${pool.maxConnections})…`)
    const isCancelled = () => cancelled
    const [workload, held] = await Promise.all([
      shop.runWorkload(shopUrl, WORKLOAD_CONNECTIONS, isCancelled, agedIn),
      shop.holdIdleConnections(shopUrl, pool.count, isCancelled),
    ])
    clients.push(...held)
    step('workload')
    progress(`workload: ${workload.executions} statements in ${workload.seconds.toFixed(1)} s; ${held.length} idle sessions held; one transaction idle for ${Math.round((Date.now() - idle.openedAt) / 1000)} s`)

    const targets: TargetSpec[] = [{name: 'shop-db', kind: 'postgres', url: shopUrl}]
    if (redis) targets.push({name: 'shop-redis', kind: 'redis', url: redis.url, options: redis.targetOptions})
    if (mysql) targets.push({name: 'shop-mysql', kind: 'mysql', url: mysql.url})
    progress(`auditing ${targets.map((t) => t.name).join(', ')} live (window 0: counters since the server started)…`)
    const {report, snapshot} = await runAudit({...options.context, config: demoConfig(progress), targets, windowSeconds: 0, failOn: 'critical', log: progress})
    step('audit')

    await options.writeReport(report, snapshot)
    const secondsToReport = Math.round(process.uptime() * 10) / 10
    const {critical, warning, info} = report.summary
    progress(`report: ${critical} critical, ${warning} warning, ${info} info, written ${secondsToReport} s after start`
      + ` (server ${timings.server} s, seed ${timings.seed} s, workload ${timings.workload} s, audit ${timings.audit} s).`
      + ' The demo exits 0 even with critical findings: it ran as intended.')

    let keptMessage: string | undefined
    if (options.keep) {
      await shop.closeAll(clients)
      await redis?.cleanup()
      await mysql?.cleanup()
      mysql = undefined
      server.detach()
      keptMessage = keepMessage(server)
      server = undefined
      redis = undefined
      redisKeys = undefined
    }
    return {report, timings, secondsToReport, keptMessage}
  } catch (error) {
    if (interrupted) {
      // The server was stopped under a running step; the signal handler finishes and exits.
      await cleanup()
      return new Promise<never>(() => {})
    }
    const logTail = server?.logTail(5)
    throw new Error(`${errorMessage(error)}${logTail ? `\nlast lines of the demo server's log:\n${logTail}` : ''}`)
  } finally {
    if (!interrupted) {
      await cleanup()
      process.removeListener('SIGINT', onSignal)
      process.removeListener('SIGTERM', onSignal)
    }
  }
}

function keepMessage(server: EmbeddedServer): string {
  const url = server.url(shop.SHOP_DATABASE)
  return [
    'The demo server keeps running (the idle sessions and the open transaction ended with the demo):',
    `  URL:    ${url}`,
    `  audit:  chokepoint audit --pg '${url}'`,
    `  psql:   psql '${url}'`,
    `  stop:   kill -INT ${server.pid} && rm -rf ${server.rootDir}`,
  ].join('\n')
}
