import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import {round} from '../../core/numbers.js'
import type {MysqlSession} from '../../drivers/mysql.js'
import {intOption, num} from '../postgres/skip.js'
import {nameValues} from './skip.js'

const WHAT = 'mysql.buffer-pool'

/*
 * SHOW GLOBAL STATUS reads the same on both flavours (MySQL 8 dropped information_schema.GLOBAL_STATUS).
 * Innodb_checkpoint_age is MariaDB's; MySQL 8.0.30+ has Innodb_redo_log_current_lsn and Innodb_redo_log_checkpoint_lsn
 * instead (written from MySQL's documentation: not tested against a MySQL server). Whichever the server lacks is
 * simply absent from the result.
 */
const STATUS_SQL = `SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_read_requests', 'Innodb_buffer_pool_reads',
  'Innodb_buffer_pool_pages_dirty', 'Innodb_buffer_pool_pages_total', 'Innodb_buffer_pool_pages_free', 'Innodb_checkpoint_age',
  'Innodb_redo_log_current_lsn', 'Innodb_redo_log_checkpoint_lsn')`
const SIZES_SQL = 'SELECT @@innodb_buffer_pool_size AS innodb_buffer_pool_size, @@innodb_log_file_size AS innodb_log_file_size'

export interface BufferPoolCounters {
  readRequests: number
  diskReads: number
}

export interface BufferPoolData {
  basis: 'window' | 'since server start'
  windowSeconds: number
  readRequests: number
  diskReads: number
  hitRatio: number | null
  minRequests: number
  sampleTooSmall: boolean
  pagesTotal: number
  pagesDirty: number
  pagesFree: number
  dirtyRatio: number | null
  bufferPoolBytes: number
  /** Redo written since the last checkpoint (bytes), and over the redo log size; null where the server does not say. */
  checkpointAgeBytes: number | null
  checkpointAgeRatio: number | null
}

/** Status names upper-cased: information_schema spells them in capitals, SHOW STATUS in mixed case. */
export function statusMap(rows: Array<Record<string, unknown>>): Record<string, string> {
  return Object.fromEntries(Object.entries(nameValues(rows)).map(([k, v]) => [k.toUpperCase(), v]))
}

export function bufferPoolReading(status: Record<string, string>, base: BufferPoolCounters | undefined, windowSeconds: number, minRequests: number): {data: BufferPoolData; metrics: Metric[]} {
  const requestsNow = num(status.INNODB_BUFFER_POOL_READ_REQUESTS)
  const readsNow = num(status.INNODB_BUFFER_POOL_READS)
  // A restart inside the window makes the counters smaller than the baseline: use them since that start.
  const useBase = base && requestsNow >= base.readRequests && readsNow >= base.diskReads
  const readRequests = useBase ? requestsNow - base.readRequests : requestsNow
  const diskReads = useBase ? readsNow - base.diskReads : readsNow
  const hitRatio = readRequests > 0 ? Math.max(0, 1 - diskReads / readRequests) : null
  const pagesTotal = num(status.INNODB_BUFFER_POOL_PAGES_TOTAL)
  const pagesDirty = num(status.INNODB_BUFFER_POOL_PAGES_DIRTY)
  let checkpointAgeBytes: number | null = null
  if (status.INNODB_CHECKPOINT_AGE !== undefined) checkpointAgeBytes = num(status.INNODB_CHECKPOINT_AGE)
  else if (status.INNODB_REDO_LOG_CURRENT_LSN !== undefined && status.INNODB_REDO_LOG_CHECKPOINT_LSN !== undefined) {
    checkpointAgeBytes = Math.max(0, num(status.INNODB_REDO_LOG_CURRENT_LSN) - num(status.INNODB_REDO_LOG_CHECKPOINT_LSN))
  }
  const logBytes = num(status.INNODB_LOG_FILE_SIZE)
  const basis = useBase ? 'window' : 'since server start'
  const data: BufferPoolData = {
    basis, windowSeconds: useBase ? windowSeconds : 0, readRequests, diskReads, hitRatio, minRequests, sampleTooSmall: readRequests < minRequests,
    pagesTotal, pagesDirty, pagesFree: num(status.INNODB_BUFFER_POOL_PAGES_FREE), dirtyRatio: pagesTotal > 0 ? round(pagesDirty / pagesTotal, 4) : null,
    bufferPoolBytes: num(status.INNODB_BUFFER_POOL_SIZE), checkpointAgeBytes,
    checkpointAgeRatio: checkpointAgeBytes !== null && logBytes > 0 ? round(checkpointAgeBytes / logBytes, 4) : null,
  }
  const metrics: Metric[] = []
  // Fewer requests than minRequests make a ratio noise: kept in data, no metric (as the PostgreSQL cache-hit probe does).
  if (hitRatio !== null && !data.sampleTooSmall) {
    metrics.push({name: 'db.cache.hit_ratio', subject: 'InnoDB buffer pool', value: hitRatio, evidence: {
      cache: 'the InnoDB buffer pool', hits: readRequests - diskReads, reads: diskReads, blocks: readRequests, basis,
      windowSeconds: data.windowSeconds, dirtyRatio: data.dirtyRatio, bufferPoolBytes: data.bufferPoolBytes, checkpointAgeBytes}})
  }
  return {data, metrics}
}

export const bufferPoolProbe: Probe<MysqlSession> = {
  id: WHAT,
  kind: 'mysql',
  description: 'InnoDB buffer pool hit rate over the window (read requests vs disk reads), dirty pages, checkpoint age',
  async baseline(session): Promise<BufferPoolCounters> {
    const status = statusMap(await session.query(STATUS_SQL))
    return {readRequests: num(status.INNODB_BUFFER_POOL_READ_REQUESTS), diskReads: num(status.INNODB_BUFFER_POOL_READS)}
  },
  async collect(session, ctx, baseline): Promise<ProbeOutput> {
    const base = ctx.windowSeconds > 0 ? (baseline as BufferPoolCounters | undefined) : undefined
    const status = statusMap(await session.query(STATUS_SQL))
    const [sizes] = await session.query<Record<string, string>>(SIZES_SQL)
    for (const [k, v] of Object.entries(sizes ?? {})) status[k.toUpperCase()] = String(v)
    const {data, metrics} = bufferPoolReading(status, base, ctx.windowSeconds, intOption(ctx.options, 'cacheMinBlocks', 1000))
    return {data, metrics, nextBaseline: {readRequests: num(status.INNODB_BUFFER_POOL_READ_REQUESTS), diskReads: num(status.INNODB_BUFFER_POOL_READS)}}
  },
}
