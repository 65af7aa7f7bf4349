import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parseReplicaStatus, replicationMetrics} from '../../../src/probes/mysql/replication.js'

const fixture = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', name), 'utf8')).row as Record<string, unknown>

describe('mysql.replication parsing', () => {
  it('reads MariaDB\'s SHOW ALL SLAVES STATUS by its Master/Slave column names', () => {
    const channel = parseReplicaStatus(fixture('mariadb-all-slaves-status.json'))
    expect(channel).toMatchObject({name: '', source: '127.0.0.1:25306', ioRunning: true, sqlRunning: true, lagSeconds: 7, lastSqlErrno: 0})
    expect(channel.gtidExecuted).toMatch(/^0-1-\d+$/)
    const metrics = replicationMetrics([channel])
    expect(metrics.map((m) => [m.name, m.value])).toEqual([['mysql.replication.threads_stopped', 0], ['replication.lag_seconds', 7]])
  })

  it('reads MySQL 8\'s SHOW REPLICA STATUS by its Source/Replica names (from the documentation): a stopped SQL thread, no lag invented', () => {
    const channel = parseReplicaStatus(fixture('mysql8-replica-status.json'))
    expect(channel).toMatchObject({source: '10.0.0.5:3306', ioRunning: true, sqlRunning: false, lagSeconds: null, lastSqlErrno: 1062})
    const metrics = replicationMetrics([channel])
    expect(metrics).toHaveLength(1)
    expect(metrics[0]).toMatchObject({name: 'mysql.replication.threads_stopped', value: 1, subject: 'replica of 10.0.0.5:3306',
      evidence: {stopped: 'the SQL thread', lastErrno: 1062, errorText: expect.stringMatching(/^ \(last error 1062: Could not execute Write_rows/)}})
  })

  it('takes a configured SQL_Delay off the lag: a delayed replica on schedule is not behind', () => {
    const channel = parseReplicaStatus({...fixture('mariadb-all-slaves-status.json'), Seconds_Behind_Master: '3605', SQL_Delay: '3600'})
    expect(replicationMetrics([channel]).find((m) => m.name === 'replication.lag_seconds')?.value).toBe(5)
  })
})
