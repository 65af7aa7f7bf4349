import {ProbeSkip} from '../../core/errors.js'
import type {Probe} from '../../core/probe.js'
import {quoteLiteral} from '../../core/sql.js'
import type {Metric} from '../../core/types.js'
import type {PgSession} from '../../drivers/postgres.js'

/**
 * postgres.replication: how far behind the standbys are, from whichever side the audit is connected to, and the
 * replication slots that hold WAL back. Two round trips on either side.
 *
 * On a primary, pg_stat_replication splits the delay per standby: write lag is the network, flush minus write the
 * standby's disk, replay minus flush its apply. NULL lags mean the standby has caught up (the docs: shown for a
 * short time after activity stops, then NULL), so they count as 0; the byte lag is reported beside them.
 * These times are refreshed when the standby reports back (on receiving WAL, else every wal_receiver_status_interval):
 * with replay paused and WAL pending, the walsender interpolates a replay_lag that keeps growing and the byte lag
 * stays above 0; with nothing sent since the pause there is nothing to apply, and 0 is the truth.
 *
 * On a standby: 0 when everything received has been replayed (an idle primary is not lag), else the age of the
 * last replayed transaction, as postgres_exporter and PgHero compute it. If no WAL receiver runs (disconnected,
 * or restoring from an archive), "received = replayed" proves nothing and the age of the last replay is used.
 */

export interface StandbyLag {
  applicationName: string | null
  clientAddr: string | null
  state: string | null
  syncState: string | null
  writeLag: number
  flushLag: number
  replayLag: number
  sentBytes: number | null
  writeBytes: number | null
  flushBytes: number | null
  byteLag: number | null
}

export interface SlotRow {
  name: string
  type: string
  active: boolean
  walStatus: string | null
  retainedBytes: number | null
  database: string | null
}

export interface ReplicationData {
  role: 'primary' | 'standby'
  standbys?: StandbyLag[]
  standby?: {
    lagSeconds: number | null
    caughtUp: boolean
    replayPaused: boolean
    byteLag: number | null
    secondsSinceLastReplay: number | null
    receiverStatus: string | null
    receiverRunning: boolean
    secondsSinceLastMessage: number | null
    senderHost: string | null
  }
  slots: SlotRow[]
}

type Stage = 'write' | 'flush' | 'replay'

/** The stage that contributes most of the lag: write = network, flush - write = disk, replay - flush = apply. */
export function laggingStage(write: number, flush: number, replay: number): Stage {
  const parts: Array<[Stage, number]> = [['write', write], ['flush', flush - write], ['replay', replay - flush]]
  return parts.reduce((best, part) => (part[1] > best[1] ? part : best), ['replay', 0] as [Stage, number])[0]
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v))

export const replicationProbe: Probe<PgSession> = {
  id: 'postgres.replication',
  kind: 'postgres',
  description: 'Replication lag per standby (write, flush, replay) or of this standby, and slots retaining WAL',

  async collect(pg) {
    const [{standby}] = await pg.query<{standby: boolean}>('SELECT pg_is_in_recovery() AS standby')
    return standby ? collectOnStandby(pg) : collectOnPrimary(pg)
  },
}

async function readSlots(pg: PgSession, position: string): Promise<SlotRow[]> {
  const rows = await pg.query(
    `SELECT slot_name AS name, slot_type AS type, active, wal_status AS "walStatus", database,
            pg_wal_lsn_diff(${position}, restart_lsn)::float8 AS "retainedBytes"
       FROM pg_replication_slots ORDER BY slot_name`)
  return rows.map((r) => ({name: r.name, type: r.type, active: r.active, walStatus: r.walStatus, database: r.database, retainedBytes: num(r.retainedBytes)}))
}

function slotMetrics(slots: SlotRow[]): Metric[] {
  // An inactive slot keeps every WAL segment since its restart_lsn: pg_wal grows until the disk is full.
  return slots.filter((s) => !s.active && s.retainedBytes !== null).map((s) => ({
    name: 'replication.inactive_slot.retained_bytes',
    value: s.retainedBytes,
    subject: `slot ${s.name}`,
    evidence: {slot: s.name, slotType: s.type, walStatus: s.walStatus, retainedBytes: s.retainedBytes, database: s.database,
      dropSql: `SELECT pg_drop_replication_slot(${quoteLiteral(s.name)});`},
  }))
}

async function collectOnPrimary(pg: PgSession) {
  const rows = await pg.query(
    `SELECT application_name, client_addr::text AS client_addr, state, sync_state,
            extract(epoch FROM write_lag)::float8 AS write_lag, extract(epoch FROM flush_lag)::float8 AS flush_lag,
            extract(epoch FROM replay_lag)::float8 AS replay_lag,
            pg_wal_lsn_diff(pg_current_wal_lsn(), sent_lsn)::float8 AS sent_bytes,
            pg_wal_lsn_diff(pg_current_wal_lsn(), write_lsn)::float8 AS write_bytes,
            pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::float8 AS flush_bytes,
            pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS byte_lag
       FROM pg_stat_replication ORDER BY application_name, client_addr`)
  // Without pg_monitor/pg_read_all_stats every column but the names is NULL: NULL would read as "caught up".
  if (rows.length > 0 && rows.every((r) => r.state === null)) {
    throw new ProbeSkip(`pg_stat_replication hides the standbys' progress from ${pg.user || 'this user'}: GRANT pg_monitor TO ${pg.user || 'the audit user'}`)
  }
  const standbys: StandbyLag[] = rows.map((r) => ({
    applicationName: r.application_name,
    clientAddr: r.client_addr,
    state: r.state,
    syncState: r.sync_state,
    writeLag: num(r.write_lag) ?? 0,
    flushLag: num(r.flush_lag) ?? 0,
    replayLag: num(r.replay_lag) ?? 0,
    sentBytes: num(r.sent_bytes),
    writeBytes: num(r.write_bytes),
    flushBytes: num(r.flush_bytes),
    byteLag: num(r.byte_lag),
  }))
  const slots = await readSlots(pg, 'pg_current_wal_lsn()')
  const metrics: Metric[] = standbys.map((s) => {
    const stage = laggingStage(s.writeLag, s.flushLag, s.replayLag)
    return {
      name: 'replication.lag_seconds',
      // Replay lag is the whole delay (written, flushed and applied); a streaming standby behind by less is 0.
      value: Math.max(s.writeLag, s.flushLag, s.replayLag),
      subject: `standby ${s.applicationName || s.clientAddr || 'unnamed'}${s.clientAddr && s.applicationName ? ` (${s.clientAddr})` : ''}`,
      evidence: {stage, stageIsReplay: stage === 'replay' ? 1 : 0, writeLag: s.writeLag, flushLag: s.flushLag, replayLag: s.replayLag,
        byteLag: s.byteLag, state: s.state, syncState: s.syncState, measuredOn: 'primary'},
    }
  })
  const data: ReplicationData = {role: 'primary', standbys, slots}
  return {data, metrics: [...metrics, ...slotMetrics(slots)]}
}

async function collectOnStandby(pg: PgSession) {
  const [r] = await pg.query(
    `SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() AS caught_up,
            pg_is_wal_replay_paused() AS paused,
            pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 AS byte_lag,
            extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_last_replay,
            w.pid IS NOT NULL AS receiver_running, w.status AS receiver_status, w.sender_host,
            extract(epoch FROM now() - w.last_msg_receipt_time)::float8 AS since_last_message
       FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver w ON true`)
  const receiverRunning = Boolean(r.receiver_running)
  // Paused with nothing pending is not lag either: the standby has everything the primary sent.
  const caughtUp = receiverRunning && r.caught_up === true
  const sinceLastReplay = num(r.since_last_replay)
  const lagSeconds = caughtUp ? 0 : sinceLastReplay === null ? null : Math.max(0, sinceLastReplay)
  // From the standby side only two stages can be told apart: WAL not arriving (write) and WAL not applied (replay).
  const receiverDown = !receiverRunning || (r.receiver_status !== null && r.receiver_status !== 'streaming')
  const stage: Stage = r.paused || (r.byte_lag ?? 0) > 0 || !receiverDown ? 'replay' : 'write'
  const slots = await readSlots(pg, 'pg_last_wal_replay_lsn()')
  const standby: ReplicationData['standby'] = {
    lagSeconds,
    caughtUp,
    replayPaused: Boolean(r.paused),
    byteLag: num(r.byte_lag),
    secondsSinceLastReplay: sinceLastReplay,
    receiverStatus: r.receiver_status ?? null,
    receiverRunning,
    secondsSinceLastMessage: num(r.since_last_message),
    senderHost: r.sender_host ?? null,
  }
  const metrics: Metric[] = [{
    name: 'replication.lag_seconds',
    value: lagSeconds,
    subject: 'this standby',
    evidence: {stage, stageIsReplay: stage === 'replay' ? 1 : 0, replayPaused: standby.replayPaused, byteLag: standby.byteLag,
      receiverStatus: standby.receiverStatus, receiverRunning, secondsSinceLastMessage: standby.secondsSinceLastMessage,
      state: standby.receiverStatus ?? (receiverRunning ? 'receiving' : 'not receiving'), measuredOn: 'standby'},
  }]
  return {data: {role: 'standby', standby, slots} satisfies ReplicationData, metrics: [...metrics, ...slotMetrics(slots)]}
}
