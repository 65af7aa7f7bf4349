import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {intOption, num, numOrNull, queryRow} from './skip.js'

/** One prepared (two-phase) transaction, as the reading keeps it. */
export interface PreparedXact {
  gid: string
  database: string
  owner: string
  /** When PREPARE TRANSACTION ran (ISO time). */
  prepared: string
  ageSeconds: number
  /** The transaction's ID and its age in transactions (age(transaction)). */
  xid: string
  xidAge: number
  /** age(datfrozenxid) of its database: what database/xid-wraparound measures there. */
  databaseXidAge: number | null
  /**
   * True when no other holder of the xmin horizon is older: vacuum and freezing cannot pass this transaction's ID
   * anywhere in the cluster while it stays prepared.
   */
  holdsXminHorizon: boolean
}

/** The oldest xmin holders besides prepared transactions, as ages in transactions (null: none). */
export interface XminHolders {
  /** Oldest backend_xmin or backend_xid of another session (pg_stat_activity). */
  sessionAge: number | null
  /** Oldest xmin or catalog_xmin of a replication slot. */
  slotAge: number | null
}

export interface PreparedXactsData {
  maxPreparedTransactions: number
  total: number
  /** The oldest N, oldest first. */
  preparedXacts: PreparedXact[]
  otherHolders: XminHolders
}

interface PreparedRow {
  max_prepared: string
  total: string
  prepared: Array<Omit<PreparedXact, 'holdsXminHorizon'>>
  session_age: string | null
  slot_age: string | null
}

/*
 * One round trip. pg_prepared_xacts lists every database's prepared transactions (it is cluster-wide, readable by
 * any role). The other xmin holders are read beside them to tell which one pins the horizon: another session's
 * backend_xid or backend_xmin (a snapshot taken while the prepared transaction existed shows its xid as running,
 * so that session ties with it rather than beating it), and replication slots' xmin and catalog_xmin.
 */
const PREPARED_SQL = `
SELECT current_setting('max_prepared_transactions') AS max_prepared,
  (SELECT count(*) FROM pg_prepared_xacts) AS total,
  (SELECT coalesce(json_agg(p ORDER BY p."ageSeconds" DESC, p.gid), '[]'::json) FROM (
     SELECT x.gid, x.database, x.owner, x.prepared, extract(epoch FROM now() - x.prepared)::float8 AS "ageSeconds",
            x.transaction::text AS xid, age(x.transaction)::float8 AS "xidAge",
            age(d.datfrozenxid)::float8 AS "databaseXidAge"
     FROM pg_prepared_xacts x LEFT JOIN pg_database d ON d.datname = x.database
     ORDER BY x.prepared, x.gid LIMIT $1) p) AS prepared,
  (SELECT max(greatest(age(backend_xid), age(backend_xmin)))::float8 FROM pg_stat_activity
     WHERE pid <> pg_backend_pid()) AS session_age,
  (SELECT max(greatest(age(xmin), age(catalog_xmin)))::float8 FROM pg_replication_slots) AS slot_age
`

export const preparedXactsProbe: Probe<PgSession> = {
  id: 'postgres.prepared-xacts',
  kind: 'postgres',
  description: 'Prepared (two-phase) transactions: age, owner, database, and whether each holds back the xmin horizon',
  async collect(session, ctx): Promise<ProbeOutput> {
    const topN = intOption(ctx.options, 'preparedXactsTopN', 20)
    const row = await queryRow<PreparedRow>(session, 'postgres.prepared-xacts', PREPARED_SQL, [topN])
    const otherHolders: XminHolders = {sessionAge: numOrNull(row.session_age), slotAge: numOrNull(row.slot_age)}
    const otherOldest = Math.max(otherHolders.sessionAge ?? 0, otherHolders.slotAge ?? 0)
    const preparedXacts: PreparedXact[] = row.prepared.map((p) => ({...p, holdsXminHorizon: p.xidAge >= otherOldest}))
    const metrics: Metric[] = preparedXacts.map((p) => ({
      name: 'postgres.prepared_xact.age_seconds',
      subject: `prepared transaction ${p.gid}`,
      value: p.ageSeconds,
      evidence: {
        gid: p.gid,
        database: p.database,
        owner: p.owner,
        prepared: p.prepared,
        xid: p.xid,
        xidAge: p.xidAge,
        databaseXidAge: p.databaseXidAge,
        holdsXminHorizon: p.holdsXminHorizon,
        horizon: p.holdsXminHorizon ? 'it holds back the xmin horizon' : 'an older session or slot holds the xmin horizon further back',
        oldestOtherSessionXidAge: otherHolders.sessionAge,
        oldestSlotXidAge: otherHolders.slotAge,
      },
    }))
    return {
      data: {maxPreparedTransactions: num(row.max_prepared), total: num(row.total), preparedXacts, otherHolders} satisfies PreparedXactsData,
      metrics,
    }
  },
}
