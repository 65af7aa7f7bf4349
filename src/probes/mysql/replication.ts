import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {MysqlSession} from '../../drivers/mysql.js'
import {num} from '../postgres/skip.js'
import {queryOrSkip, skipIfNotApplicable} from './skip.js'

const WHAT = 'mysql.replication'

/** One source this server replicates from, its columns looked up by either generation's name. */
export interface ReplicaChannel {
  /** MariaDB's connection name or MySQL's channel name ('' for the default one). */
  name: string
  source: string
  ioRunning: boolean
  sqlRunning: boolean
  /** Seconds_Behind_Source / Seconds_Behind_Master: null while the SQL thread is stopped or the IO thread is not connected. */
  lagSeconds: number | null
  sqlDelaySeconds: number
  lastIoError: string
  lastSqlError: string
  lastIoErrno: number
  lastSqlErrno: number
  ioState: string
  sqlState: string
  gtidIoPos: string | null
  gtidExecuted: string | null
}

export interface MysqlReplicationData {
  role: 'replica' | 'primary'
  channels: ReplicaChannel[]
  /** On a source: the sessions of replicas reading its binlog (processlist 'Binlog Dump'), by host. */
  connectedReplicas: Array<{id: number; host: string; seconds: number; state: string | null}>
}

/** The first column present of several names: MySQL 8.0.22 renamed Master/Slave to Source/Replica, MariaDB did not. */
function col(row: Record<string, unknown>, ...names: string[]): unknown {
  for (const name of names) if (row[name] !== undefined) return row[name]
  return undefined
}

export function parseReplicaStatus(row: Record<string, unknown>): ReplicaChannel {
  const yes = (v: unknown) => String(v ?? '').toLowerCase() === 'yes'
  const lag = col(row, 'Seconds_Behind_Source', 'Seconds_Behind_Master')
  const host = String(col(row, 'Source_Host', 'Master_Host') ?? '')
  const port = col(row, 'Source_Port', 'Master_Port')
  return {
    name: String(col(row, 'Connection_name', 'Channel_Name', 'Channel_name') ?? ''),
    source: port ? `${host}:${port}` : host,
    ioRunning: yes(col(row, 'Replica_IO_Running', 'Slave_IO_Running')),
    sqlRunning: yes(col(row, 'Replica_SQL_Running', 'Slave_SQL_Running')),
    lagSeconds: lag === null || lag === undefined || lag === '' ? null : num(lag),
    sqlDelaySeconds: num(col(row, 'SQL_Delay')),
    lastIoError: String(col(row, 'Last_IO_Error') ?? ''),
    lastSqlError: String(col(row, 'Last_SQL_Error') ?? ''),
    lastIoErrno: num(col(row, 'Last_IO_Errno')),
    lastSqlErrno: num(col(row, 'Last_SQL_Errno')),
    ioState: String(col(row, 'Replica_IO_State', 'Slave_IO_State') ?? ''),
    sqlState: String(col(row, 'Replica_SQL_Running_State', 'Slave_SQL_Running_State') ?? ''),
    gtidIoPos: (col(row, 'Gtid_IO_Pos', 'Retrieved_Gtid_Set') as string | undefined) ?? null,
    gtidExecuted: (col(row, 'Gtid_Slave_Pos', 'Executed_Gtid_Set') as string | undefined) ?? null,
  }
}

/**
 * replication.lag_seconds per channel (the seed's 5 s rule). The lag a replica reports is how far behind the source's
 * clock the event it applies is; with a thread stopped the server reports none, and neither is one invented here:
 * the stopped thread and its last error are in the evidence and the data.
 */
export function replicationMetrics(channels: ReplicaChannel[]): Metric[] {
  const subject = (c: ReplicaChannel) => `replica of ${c.source}${c.name ? ` (${c.name})` : ''}`
  const stopped = channels.map((c) => {
    const names = [c.ioRunning ? '' : 'IO', c.sqlRunning ? '' : 'SQL'].filter(Boolean)
    const errno = c.lastSqlErrno || c.lastIoErrno
    const error = c.lastSqlError || c.lastIoError
    return {name: 'mysql.replication.threads_stopped', subject: subject(c), value: names.length, evidence: {vendor: 'mysql', channel: c.name, source: c.source,
      stopped: names.length ? `the ${names.join(' and ')} thread${names.length > 1 ? 's' : ''}` : 'none', lastErrno: errno,
      errorText: errno ? ` (last error ${errno}: ${error.split('\n')[0].slice(0, 200)})` : '', ioState: c.ioState, sqlState: c.sqlState}}
  })
  return [...stopped, ...channels.filter((c) => c.lagSeconds !== null).map((c) => ({
    name: 'replication.lag_seconds',
    subject: subject(c),
    value: Math.max(0, c.lagSeconds! - c.sqlDelaySeconds),
    evidence: {vendor: 'mysql', stage: 'apply', stageIsReplay: 1, channel: c.name, source: c.source, ioRunning: c.ioRunning ? 1 : 0, sqlRunning: c.sqlRunning ? 1 : 0,
      sqlDelaySeconds: c.sqlDelaySeconds, reportedSeconds: c.lagSeconds, sqlState: c.sqlState, lastSqlError: c.lastSqlError || null, lastIoError: c.lastIoError || null},
  }))]
}

const DUMP_SQL = `SELECT ID AS id, HOST AS host, TIME AS seconds, STATE AS state FROM information_schema.PROCESSLIST
WHERE COMMAND IN ('Binlog Dump', 'Binlog Dump GTID') ORDER BY HOST LIMIT 100`

export const replicationProbe: Probe<MysqlSession> = {
  id: WHAT,
  kind: 'mysql',
  description: 'Replica threads, lag and last errors (SHOW ALL SLAVES STATUS / SHOW REPLICA STATUS); on a source, the replicas reading its binlog',
  async collect(session): Promise<ProbeOutput> {
    let rows: Record<string, unknown>[]
    try {
      rows = await session.replicaRows()
    } catch (error) {
      skipIfNotApplicable(error, session, WHAT, 'replication')
    }
    const channels = rows.map(parseReplicaStatus)
    // Replicas connect with a 'Binlog Dump' session; PROCESS shows other users' sessions (SHOW SLAVE HOSTS would need more).
    const dumps = await queryOrSkip<{id: string; host: string; seconds: string; state: string | null}>(session, WHAT, 'PROCESS', DUMP_SQL)
    const data: MysqlReplicationData = {
      role: channels.length > 0 ? 'replica' : 'primary',
      channels,
      connectedReplicas: dumps.map((d) => ({id: num(d.id), host: d.host, seconds: num(d.seconds), state: d.state})),
    }
    return {data, metrics: replicationMetrics(channels)}
  },
}
