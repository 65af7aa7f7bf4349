import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {quoteIdent} from '../../core/sql.js'
import {intOption, num, queryRow, quoteRole, requireVersion} from './skip.js'

interface ConnectionsRow {
  max_connections: number
  superuser_reserved: number
  reserved_connections: number
  used: string
  active: string
  idle: string
  idle_in_transaction: string
  idle_in_transaction_aborted: string
  other: string
  state_hidden: string
  can_read_all_stats: boolean
  by_database: Array<{database: string | null; connections: number; active: number; idle: number; idleInTransaction: number}>
  by_application: Array<{application: string; connections: number; active: number; idle: number; idleInTransaction: number}>
}

/*
 * Client backends only: walsenders, autovacuum and background workers draw on their own limits
 * (max_wal_senders, autovacuum_max_workers, max_worker_processes), not on max_connections.
 * reserved_connections exists from PostgreSQL 16; current_setting(..., true) yields NULL before that.
 * One round trip: settings, counts by state and the two top-10 breakdowns come back in one row.
 */
const CONNECTIONS_SQL = `
WITH clients AS (
  SELECT datname, coalesce(nullif(application_name, ''), '(none)') AS application, state
  FROM pg_stat_activity
  WHERE backend_type = 'client backend'
     -- Without pg_read_all_stats, other roles' rows hide backend_type and state too; a row with a database and a
     -- user is a client session (or, rarely, a parallel worker or logical walsender: a small overcount beats
     -- missing every other role's connections).
     OR (backend_type IS NULL AND datname IS NOT NULL AND usename IS NOT NULL)
)
SELECT
  current_setting('max_connections')::int AS max_connections,
  current_setting('superuser_reserved_connections')::int AS superuser_reserved,
  coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS reserved_connections,
  (SELECT count(*) FROM clients) AS used,
  (SELECT count(*) FROM clients WHERE state = 'active') AS active,
  (SELECT count(*) FROM clients WHERE state = 'idle') AS idle,
  (SELECT count(*) FROM clients WHERE state = 'idle in transaction') AS idle_in_transaction,
  (SELECT count(*) FROM clients WHERE state = 'idle in transaction (aborted)') AS idle_in_transaction_aborted,
  (SELECT count(*) FROM clients WHERE state IS NOT NULL
     AND state NOT IN ('active', 'idle', 'idle in transaction', 'idle in transaction (aborted)')) AS other,
  -- Other roles' sessions seen without pg_read_all_stats: counted, but their state is unknown.
  (SELECT count(*) FROM clients WHERE state IS NULL) AS state_hidden,
  pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read_all_stats,
  (SELECT coalesce(json_agg(d), '[]'::json) FROM (
     SELECT datname AS database, count(*) AS connections,
            count(*) FILTER (WHERE state = 'active') AS active,
            count(*) FILTER (WHERE state = 'idle') AS idle,
            count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS "idleInTransaction"
     FROM clients GROUP BY datname ORDER BY count(*) DESC, datname LIMIT $1) d) AS by_database,
  (SELECT coalesce(json_agg(a), '[]'::json) FROM (
     SELECT application, count(*) AS connections,
            count(*) FILTER (WHERE state = 'active') AS active,
            count(*) FILTER (WHERE state = 'idle') AS idle,
            count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS "idleInTransaction"
     FROM clients GROUP BY application ORDER BY count(*) DESC, application LIMIT $1) a) AS by_application
`

export const connectionsProbe: Probe<PgSession> = {
  id: 'postgres.connections',
  kind: 'postgres',
  description: 'Client connections by state against max_connections minus the reserved slots (pool.utilization)',
  async collect(session, ctx): Promise<ProbeOutput> {
    requireVersion(session, 100000, 'postgres.connections (pg_stat_activity.backend_type)')
    const topN = intOption(ctx.options, 'connectionsTopN', 10)
    const row = await queryRow<ConnectionsRow>(session, 'postgres.connections', CONNECTIONS_SQL, [topN])
    const maxConnections = num(row.max_connections)
    const reserved = num(row.superuser_reserved) + num(row.reserved_connections)
    // Ordinary roles can use only these slots; the reserved ones are for superusers (and pg_use_reserved_connections).
    const usable = Math.max(maxConnections - reserved, 1)
    const used = num(row.used)
    const evidence = {
      used,
      usable,
      maxConnections,
      reserved,
      active: num(row.active),
      idle: num(row.idle),
      idleInTransaction: num(row.idle_in_transaction) + num(row.idle_in_transaction_aborted),
      idleInTransactionAborted: num(row.idle_in_transaction_aborted),
      other: num(row.other),
      stateHidden: num(row.state_hidden),
      byDatabase: row.by_database,
      byApplication: row.by_application,
    }
    const limitation = evidence.stateHidden > 0 && !row.can_read_all_stats
      ? `${evidence.stateHidden} sessions of other roles have a hidden state (idle/active breakdown incomplete); fix: GRANT pg_read_all_stats TO ${quoteRole(session.user)}`
      : undefined
    return {
      data: {...evidence, superuserReserved: num(row.superuser_reserved), reservedConnections: num(row.reserved_connections), limitation},
      metrics: [{name: 'pool.utilization', subject: 'max_connections', value: used / usable, evidence}],
      // Counted all the same: utilisation is complete, only the idle/active breakdown is not.
      notRead: limitation ? [{what: 'session states', missing: evidence.stateHidden, of: Math.max(used, evidence.stateHidden),
        reason: `sessions of other roles are counted, but their state (active, idle, idle in transaction) is hidden`,
        fix: `GRANT pg_read_all_stats TO ${quoteIdent(session.user)};`}] : undefined,
    }
  },
}
