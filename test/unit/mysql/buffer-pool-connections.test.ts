import {describe, expect, it} from 'vitest'
import {bufferPoolReading, statusMap} from '../../../src/probes/mysql/buffer-pool.js'
import {connectionsReading} from '../../../src/probes/mysql/connections.js'

const show = (pairs: Record<string, string>) => Object.entries(pairs).map(([Variable_name, Value]) => ({Variable_name, Value}))

describe('mysql.buffer-pool', () => {
  it('MariaDB: hit rate over the window from read requests and disk reads, checkpoint age from Innodb_checkpoint_age', () => {
    const status = statusMap(show({Innodb_buffer_pool_read_requests: '120000', Innodb_buffer_pool_reads: '6000', Innodb_buffer_pool_pages_total: '4000',
      Innodb_buffer_pool_pages_dirty: '400', Innodb_checkpoint_age: '1048576', innodb_log_file_size: '50331648', innodb_buffer_pool_size: '67108864'}))
    const {data, metrics} = bufferPoolReading(status, {readRequests: 20000, diskReads: 1000}, 5, 1000)
    expect(data).toMatchObject({basis: 'window', readRequests: 100_000, diskReads: 5000, dirtyRatio: 0.1, checkpointAgeBytes: 1_048_576, checkpointAgeRatio: 0.0208})
    expect(metrics).toEqual([expect.objectContaining({name: 'db.cache.hit_ratio', subject: 'InnoDB buffer pool', value: 0.95, evidence: expect.objectContaining({blocks: 100_000, reads: 5000})})])
  })

  it('MySQL 8.0.30+: checkpoint age from the redo LSNs (from the documentation); a restart in the window reads since the start', () => {
    const status = statusMap(show({Innodb_buffer_pool_read_requests: '500', Innodb_buffer_pool_reads: '5', Innodb_redo_log_current_lsn: '90000', Innodb_redo_log_checkpoint_lsn: '80000'}))
    const {data, metrics} = bufferPoolReading(status, {readRequests: 20000, diskReads: 1000}, 5, 1000)
    expect(data).toMatchObject({basis: 'since server start', readRequests: 500, checkpointAgeBytes: 10_000, sampleTooSmall: true})
    // Under 1000 requests: noise, no metric.
    expect(metrics).toEqual([])
  })
})

describe('mysql.connections', () => {
  it('pool.utilization is Threads_connected over max_connections, with sleeping sessions and failed connects in the window', () => {
    const status = statusMap(show({Threads_connected: '180', Threads_running: '4', Aborted_connects: '12', Max_used_connections: '190', Connection_errors_max_connections: '3'}))
    const {data, metrics} = connectionsReading(status, {max_connections: '200', wait_timeout: '28800'}, {Sleep: 170, Query: 10}, {abortedConnects: 10, refusedAtMax: 0})
    expect(data).toMatchObject({used: 180, running: 4, sleeping: 170, abortedConnects: 2, refusedAtMax: 3, basis: 'window'})
    expect(metrics).toEqual([expect.objectContaining({name: 'pool.utilization', value: 0.9, evidence: expect.objectContaining({sleeping: 170, waitTimeoutSeconds: 28800})})])
    // Not the PostgreSQL fields its PgBouncer remedies are gated on.
    expect(metrics[0].evidence).not.toHaveProperty('idle')
  })
})
