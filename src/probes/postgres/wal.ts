import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {numOrNull, queryRow} from './skip.js'

/**
 * postgres.wal: how fast this server writes WAL (pg_stat_wal, PostgreSQL 14+: wal_bytes, wal_records, wal_fpi),
 * over the window (baseline and collect differenced) or since the view's stats_reset, plus the settings the
 * read-replica advisor judges replica queries by: pg_is_in_recovery(), max_standby_streaming_delay and
 * hot_standby_feedback. (The cluster's system identifier, which pairs a standby with its primary, is a fact the
 * driver records for every PostgreSQL target.) A high WAL rate means a write-heavy primary: replicas replay every
 * byte of it and take no write off it. One round trip in baseline, one in collect; before PostgreSQL 14 the rate is
 * null and the settings are still read.
 */

export interface WalData {
  inRecovery: boolean
  /** WAL written per second over the window (or since stats_reset); null before PostgreSQL 14. */
  walBytesPerSecond: number | null
  walRecordsPerSecond: number | null
  /** Full-page images per second: a burst after each checkpoint, part of the bytes above. */
  walFpiPerSecond: number | null
  walBytes: number | null
  /** Seconds the rate covers. */
  seconds: number | null
  basis: 'window' | 'since-reset' | 'not-available'
  /** max_standby_streaming_delay in ms (-1: wait for ever; the default 30 s): how long replay waits for a conflicting query before cancelling it. */
  maxStandbyStreamingDelayMs: number | null
  hotStandbyFeedback: boolean | null
}

interface WalCounters {
  wal_bytes: string | null
  wal_records: string | null
  wal_fpi: string | null
  stats_reset: string | null
  since_reset: number | null
}

interface WalRow extends WalCounters {
  in_recovery: boolean
  max_standby_streaming_delay_ms: string | null
  hot_standby_feedback: string | null
}

// pg_stat_wal is read through a subquery selected only on PG14+, so one text serves every version.
const countersSql = (hasWal: boolean) => hasWal
  ? `(SELECT wal_bytes::text FROM pg_stat_wal) AS wal_bytes, (SELECT wal_records::text FROM pg_stat_wal) AS wal_records,
     (SELECT wal_fpi::text FROM pg_stat_wal) AS wal_fpi, (SELECT stats_reset::text FROM pg_stat_wal) AS stats_reset,
     (SELECT extract(epoch FROM now() - stats_reset)::float8 FROM pg_stat_wal) AS since_reset`
  : 'NULL::text AS wal_bytes, NULL::text AS wal_records, NULL::text AS wal_fpi, NULL::text AS stats_reset, NULL::float8 AS since_reset'

const hasPgStatWal = (pg: PgSession) => pg.serverVersionNum === 0 || pg.serverVersionNum >= 140000

const delta = (now: string | null, before: string | null) => (now === null || before === null ? null : Number(now) - Number(before))
const perSecond = (amount: number | null, seconds: number | null) => (amount === null || !seconds || seconds <= 0 ? null : amount / seconds)

export const walProbe: Probe<PgSession> = {
  id: 'postgres.wal',
  kind: 'postgres',
  description: 'WAL written per second (pg_stat_wal deltas, PG14+), the cluster identity and the standby conflict settings',

  async baseline(pg): Promise<WalCounters> {
    return queryRow<WalCounters>(pg, 'postgres.wal', `SELECT ${countersSql(hasPgStatWal(pg))}`)
  },

  async collect(pg, ctx, rawBaseline): Promise<ProbeOutput> {
    const hasWal = hasPgStatWal(pg)
    const row = await queryRow<WalRow>(pg, 'postgres.wal', `
      SELECT ${countersSql(hasWal)}, pg_is_in_recovery() AS in_recovery,
             (SELECT setting FROM pg_settings WHERE name = 'max_standby_streaming_delay') AS max_standby_streaming_delay_ms,
             current_setting('hot_standby_feedback') AS hot_standby_feedback`)
    const base = rawBaseline as WalCounters | undefined
    // A reset inside the window restarted the counters: the current values are the window.
    const windowed = base !== undefined && base.stats_reset === row.stats_reset && ctx.windowSeconds > 0
    const seconds = !hasWal || row.wal_bytes === null ? null : windowed ? ctx.windowSeconds : numOrNull(row.since_reset)
    const from = (field: keyof WalCounters) => (windowed ? delta(row[field] as string | null, base![field] as string | null) : numOrNull(row[field]))
    const walBytes = from('wal_bytes')
    const data: WalData = {
      inRecovery: Boolean(row.in_recovery),
      walBytesPerSecond: perSecond(walBytes, seconds),
      walRecordsPerSecond: perSecond(from('wal_records'), seconds),
      walFpiPerSecond: perSecond(from('wal_fpi'), seconds),
      walBytes,
      seconds,
      basis: seconds === null ? 'not-available' : windowed ? 'window' : 'since-reset',
      maxStandbyStreamingDelayMs: numOrNull(row.max_standby_streaming_delay_ms),
      hotStandbyFeedback: row.hot_standby_feedback === null ? null : row.hot_standby_feedback === 'on',
    }
    return {data, metrics: []}
  },
}
