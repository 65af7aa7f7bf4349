import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {makeSessionTextsSafe, SESSION_TEXT_READ_CHARS} from '../../knowledge/postgres/query-text.js'
import {intOption, num, queryRow, quoteRole, requireVersion} from './skip.js'

interface SessionRow {
  pid: number
  database: string | null
  user: string | null
  application: string | null
  state: string | null
  waitEventType: string | null
  waitEvent: string | null
  seconds: number
  transactionSeconds: number | null
  /** When the session, its statement and its transaction began (ISO, as pg_stat_activity has them): a remedy that
   * ends the session names it by these too, so one pasted after the session is gone (its pid reused) ends nothing. */
  backendStart: string | null
  queryStart: string | null
  xactStart: string | null
  query: string | null
  /** The text as the server showed it, only with the target option unsafeRawQueryTexts. */
  rawQuery?: string | null
}

interface ActivityRow {
  long_running: SessionRow[]
  idle_in_transaction: SessionRow[]
  active_count: string
  idle_in_transaction_count: string
  hidden: string
  can_read_all_stats: boolean
}

/*
 * Client backends other than this one and other chokepoint sessions (autovacuum and walsenders are not client
 * backends). The worst N of each kind are chosen by the server (ORDER BY ... LIMIT), so the result stays small
 * however many sessions there are. One round trip.
 */
const ACTIVITY_SQL = `
WITH sessions AS (
  SELECT pid, datname, usename, application_name, state, wait_event_type, wait_event,
         backend_start, query_start, state_change, xact_start, left(query, $2) AS query
  FROM pg_stat_activity
  WHERE backend_type = 'client backend'
    AND pid <> pg_backend_pid()
    AND coalesce(application_name, '') <> 'chokepoint'
)
SELECT
  (SELECT coalesce(json_agg(q ORDER BY q.seconds DESC), '[]'::json) FROM (
     SELECT pid, datname AS database, usename AS "user", application_name AS application, state,
            wait_event_type AS "waitEventType", wait_event AS "waitEvent",
            extract(epoch FROM now() - query_start)::float8 AS seconds,
            extract(epoch FROM now() - xact_start)::float8 AS "transactionSeconds",
            backend_start AS "backendStart", query_start AS "queryStart", xact_start AS "xactStart", query
     FROM sessions WHERE state = 'active' AND query_start IS NOT NULL
     ORDER BY query_start LIMIT $1) q) AS long_running,
  (SELECT coalesce(json_agg(i ORDER BY i.seconds DESC), '[]'::json) FROM (
     SELECT pid, datname AS database, usename AS "user", application_name AS application, state,
            wait_event_type AS "waitEventType", wait_event AS "waitEvent",
            extract(epoch FROM now() - state_change)::float8 AS seconds,
            extract(epoch FROM now() - xact_start)::float8 AS "transactionSeconds",
            backend_start AS "backendStart", query_start AS "queryStart", xact_start AS "xactStart", query
     FROM sessions WHERE state LIKE 'idle in transaction%' AND state_change IS NOT NULL
     ORDER BY state_change LIMIT $1) i) AS idle_in_transaction,
  (SELECT count(*) FROM sessions WHERE state = 'active') AS active_count,
  (SELECT count(*) FROM sessions WHERE state LIKE 'idle in transaction%') AS idle_in_transaction_count,
  -- Other roles' sessions seen without pg_read_all_stats: backend_type, state and timings are NULL and the query
  -- reads '<insufficient privilege>'; those with a database and a user are client sessions we cannot check.
  (SELECT count(*) FROM pg_stat_activity WHERE query = '<insufficient privilege>'
     AND datname IS NOT NULL AND usename IS NOT NULL) AS hidden,
  pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read_all_stats
`

function sessionEvidence(row: SessionRow, hiddenSessions: number): Record<string, unknown> {
  return {
    pid: row.pid,
    seconds: row.seconds,
    transactionSeconds: row.transactionSeconds,
    datname: row.database,
    usename: row.user,
    application_name: row.application,
    state: row.state,
    wait_event_type: row.waitEventType,
    wait_event: row.waitEvent,
    backendStart: row.backendStart,
    queryStart: row.queryStart,
    xactStart: row.xactStart,
    query: row.query,
    hiddenSessions,
  }
}

export const activityProbe: Probe<PgSession> = {
  id: 'postgres.activity',
  kind: 'postgres',
  description: 'Long-running queries and sessions idle in transaction (worst N of each), from pg_stat_activity',
  async collect(session, ctx): Promise<ProbeOutput> {
    requireVersion(session, 100000, 'postgres.activity (pg_stat_activity.backend_type)')
    const topN = intOption(ctx.options, 'activityTopN', 20)
    const row = await queryRow<ActivityRow>(session, 'postgres.activity', ACTIVITY_SQL, [topN, SESSION_TEXT_READ_CHARS])
    await makeSessionTextsSafe([...row.long_running, ...row.idle_in_transaction], ctx.options.unsafeRawQueryTexts === true)
    const hiddenSessions = num(row.hidden)
    const metrics: Metric[] = [
      ...row.long_running.map((r) => ({name: 'db.query.duration_seconds', subject: `pid ${r.pid}`, value: r.seconds, evidence: sessionEvidence(r, hiddenSessions)})),
      ...row.idle_in_transaction.map((r) => ({name: 'db.idle_in_transaction.seconds', subject: `pid ${r.pid}`, value: r.seconds, evidence: sessionEvidence(r, hiddenSessions)})),
    ]
    const limitation = hiddenSessions > 0 && !row.can_read_all_stats
      ? `sees only its own sessions: ${hiddenSessions} sessions of other roles show '<insufficient privilege>' and cannot be checked for long queries or idle transactions; fix: GRANT pg_read_all_stats TO ${quoteRole(session.user)}`
      : undefined
    const output: ProbeOutput = {
      data: {
        activeSessions: num(row.active_count),
        idleInTransactionSessions: num(row.idle_in_transaction_count),
        longestRunning: row.long_running,
        longestIdleInTransaction: row.idle_in_transaction,
        hiddenSessions,
        limitation,
      },
      metrics,
    }
    // A partial reading: the visible sessions are still evaluated, and the report lists what could not be seen.
    if (limitation) {
      output.status = 'skipped'
      output.reason = `postgres.activity ${limitation}`
    }
    return output
  },
}
