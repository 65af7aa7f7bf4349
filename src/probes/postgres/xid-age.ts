import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {intOption, num, queryRow} from './skip.js'

/** Transaction IDs are 32-bit and compared modulo 2^32: a database must be frozen before its age reaches 2^31. */
export const XID_WRAPAROUND = 2 ** 31

interface XidRow {
  freeze_max_age: string
  database_count: string
  databases: Array<{database: string; age: number; multixactAge: number; allowConnections: boolean}>
  oldest_tables: Array<{table: string; age: number; kind: string; sizeBytes: number}>
}

/*
 * One round trip: every database's age(datfrozenxid) (the oldest N of them, for clusters with thousands of
 * databases) and, in the connected database only (pg_class is per database), the tables with the oldest
 * relfrozenxid, counting their TOAST tables, which are frozen separately.
 */
const XID_SQL = `
SELECT current_setting('autovacuum_freeze_max_age') AS freeze_max_age,
  (SELECT count(*) FROM pg_database) AS database_count,
  (SELECT coalesce(json_agg(d), '[]'::json) FROM (
     SELECT datname AS database, age(datfrozenxid)::float8 AS age, mxid_age(datminmxid)::float8 AS "multixactAge",
            datallowconn AS "allowConnections"
     FROM pg_database ORDER BY age(datfrozenxid) DESC, datname LIMIT $1) d) AS databases,
  (SELECT coalesce(json_agg(t), '[]'::json) FROM (
     SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS "table",
            greatest(age(c.relfrozenxid), coalesce(age(toast.relfrozenxid), 0))::float8 AS age,
            c.relkind::text AS kind, pg_total_relation_size(c.oid)::float8 AS "sizeBytes"
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid
     WHERE c.relkind IN ('r', 'm') AND c.relfrozenxid <> '0'::xid
     ORDER BY 2 DESC, 1 LIMIT $2) t) AS oldest_tables
`

export const xidAgeProbe: Probe<PgSession> = {
  id: 'postgres.xid-age',
  kind: 'postgres',
  description: 'Transaction-ID age per database and the oldest tables of this database, against wraparound at 2^31',
  async collect(session, ctx): Promise<ProbeOutput> {
    const databaseLimit = intOption(ctx.options, 'xidDatabaseLimit', 50)
    const tableLimit = intOption(ctx.options, 'xidTableLimit', 10)
    const row = await queryRow<XidRow>(session, 'postgres.xid-age', XID_SQL, [databaseLimit, tableLimit])
    const freezeMaxAge = num(row.freeze_max_age)
    const metrics: Metric[] = row.databases.map((d) => ({
      name: 'postgres.xid.age_ratio',
      subject: `database ${d.database}`,
      value: d.age / XID_WRAPAROUND,
      evidence: {
        database: d.database,
        age: d.age,
        autovacuum_freeze_max_age: freezeMaxAge,
        transactionsLeft: XID_WRAPAROUND - d.age,
        multixactAge: d.multixactAge,
        allowConnections: d.allowConnections,
      },
    }))
    const oldest = row.oldest_tables[0]
    if (oldest) {
      metrics.push({
        name: 'postgres.xid.age_ratio',
        subject: `table ${oldest.table}`,
        value: oldest.age / XID_WRAPAROUND,
        evidence: {database: session.database, table: oldest.table, age: oldest.age, autovacuum_freeze_max_age: freezeMaxAge,
          transactionsLeft: XID_WRAPAROUND - oldest.age, sizeBytes: oldest.sizeBytes},
      })
    }
    return {
      data: {
        autovacuumFreezeMaxAge: freezeMaxAge,
        wraparoundAt: XID_WRAPAROUND,
        databaseCount: num(row.database_count),
        databases: row.databases,
        oldestTables: row.oldest_tables,
      },
      metrics,
    }
  },
}
