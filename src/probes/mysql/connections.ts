import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {MysqlSession} from '../../drivers/mysql.js'
import {num} from '../postgres/skip.js'
import {queryOrSkip} from './skip.js'
import {statusMap} from './buffer-pool.js'

const WHAT = 'mysql.connections'

const STATUS_SQL = `SHOW GLOBAL STATUS WHERE Variable_name IN ('Threads_connected', 'Threads_running', 'Aborted_connects',
  'Max_used_connections', 'Connection_errors_max_connections')`
const LIMITS_SQL = 'SELECT @@max_connections AS max_connections, @@wait_timeout AS wait_timeout'
/* Client sessions by command, without the server's own threads; needs PROCESS to see other users' sessions. */
const BY_COMMAND_SQL = `SELECT COMMAND AS command, COUNT(*) AS n FROM information_schema.PROCESSLIST
WHERE USER NOT IN ('system user', 'event_scheduler') AND COMMAND NOT IN ('Daemon', 'Binlog Dump', 'Binlog Dump GTID', 'Slave_IO', 'Slave_SQL', 'Slave_worker')
GROUP BY COMMAND`

export interface ConnectionCounters {
  abortedConnects: number
  refusedAtMax: number
}

export interface MysqlConnectionsData {
  used: number
  maxConnections: number
  running: number
  sleeping: number
  maxUsedConnections: number
  /** Failed logins in the window (Aborted_connects delta), and connections refused at max_connections. */
  abortedConnects: number
  refusedAtMax: number
  waitTimeoutSeconds: number
  byCommand: Record<string, number>
  basis: 'window' | 'since server start'
}

export function connectionsReading(status: Record<string, string>, limits: {max_connections?: unknown; wait_timeout?: unknown}, byCommand: Record<string, number>,
  base: ConnectionCounters | undefined): {data: MysqlConnectionsData; metrics: Metric[]} {
  const aborted = num(status.ABORTED_CONNECTS)
  const refused = num(status.CONNECTION_ERRORS_MAX_CONNECTIONS)
  const useBase = base !== undefined && aborted >= base.abortedConnects && refused >= base.refusedAtMax
  const maxConnections = Math.max(num(limits.max_connections), 1)
  const data: MysqlConnectionsData = {
    used: num(status.THREADS_CONNECTED),
    maxConnections,
    running: num(status.THREADS_RUNNING),
    sleeping: byCommand.Sleep ?? 0,
    maxUsedConnections: num(status.MAX_USED_CONNECTIONS),
    abortedConnects: useBase ? aborted - base.abortedConnects : aborted,
    refusedAtMax: useBase ? refused - base.refusedAtMax : refused,
    waitTimeoutSeconds: num(limits.wait_timeout),
    byCommand,
    basis: useBase ? 'window' : 'since server start',
  }
  // max_connections is what ordinary users get: the server keeps one more slot for a user with SUPER / CONNECTION ADMIN.
  const evidence = {used: data.used, usable: maxConnections, maxConnections, running: data.running, sleeping: data.sleeping,
    maxUsedConnections: data.maxUsedConnections, abortedConnects: data.abortedConnects, refusedAtMax: data.refusedAtMax, waitTimeoutSeconds: data.waitTimeoutSeconds}
  return {data, metrics: [{name: 'pool.utilization', subject: 'max_connections', value: data.used / maxConnections, evidence}]}
}

export const connectionsProbe: Probe<MysqlSession> = {
  id: WHAT,
  kind: 'mysql',
  description: 'Threads_connected against max_connections (pool.utilization), running and sleeping sessions, failed connects over the window',
  async baseline(session): Promise<ConnectionCounters> {
    const status = statusMap(await session.query(STATUS_SQL))
    return {abortedConnects: num(status.ABORTED_CONNECTS), refusedAtMax: num(status.CONNECTION_ERRORS_MAX_CONNECTIONS)}
  },
  async collect(session, ctx, baseline): Promise<ProbeOutput> {
    const base = ctx.windowSeconds > 0 ? (baseline as ConnectionCounters | undefined) : undefined
    const status = statusMap(await session.query(STATUS_SQL))
    const [limits] = await session.query(LIMITS_SQL)
    const rows = await queryOrSkip<{command: string; n: string}>(session, WHAT, 'PROCESS', BY_COMMAND_SQL)
    const byCommand = Object.fromEntries(rows.map((r) => [r.command, num(r.n)]))
    const {data, metrics} = connectionsReading(status, limits ?? {}, byCommand, base)
    return {data, metrics, nextBaseline: {abortedConnects: num(status.ABORTED_CONNECTS), refusedAtMax: num(status.CONNECTION_ERRORS_MAX_CONNECTIONS)}}
  },
}
