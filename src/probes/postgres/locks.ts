import type {Metric} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {makeSessionTextsSafe, SESSION_TEXT_READ_CHARS} from '../../knowledge/postgres/query-text.js'
import {intOption, num, queryRow, quoteRole, requireVersion} from './skip.js'

/** A session waiting for a lock, and the pids pg_blocking_pids() names for it (0: a prepared transaction). */
export interface BlockedSession {
  pid: number
  database: string | null
  user: string | null
  application: string | null
  waitEventType: string | null
  waitEvent: string | null
  /** Seconds since the lock wait began (pg_locks.waitstart, PG14+; before that, since the statement began). */
  waitSeconds: number
  query: string | null
  blockedBy: number[]
}

/** A session that holds a lock others wait for. */
export interface BlockingSession {
  pid: number
  /** ISO times: with the pid, they name this session and this transaction for the remedies' SQL. */
  backendStart: string | null
  xactStart: string | null
  database: string | null
  user: string | null
  application: string | null
  state: string | null
  waitEventType: string | null
  waitEvent: string | null
  transactionSeconds: number | null
  /** Seconds in the current state (running the statement, or idle in its transaction). */
  stateSeconds: number | null
  /** Its current or last statement, made safe (see docs/probes.md, Query texts). */
  query: string | null
}

export interface LocksData {
  /** Every session waiting on a lock (wait_event_type Lock), counted by the server. */
  waitingSessions: number
  /** The N longest waits. */
  blocked: BlockedSession[]
  blockers: BlockingSession[]
  /** Blockers at the head of a chain (not themselves waiting on a lock), each with every session behind it. */
  chains: Array<{pid: number; blockedPids: number[]; longestWaitSeconds: number}>
  hiddenBlockers: number
  /** Other roles' sessions whose state this role cannot see (without pg_read_all_stats). */
  hiddenSessions: number
  limitation?: string
}

interface LocksRow {
  waiting_count: string
  blocked: BlockedSession[]
  blockers: BlockingSession[]
  hidden: string
  can_read_all_stats: boolean
}

/** Sessions behind one blocker listed in its evidence (all are counted). */
const BLOCKED_SHOWN = 10
const PIDS_IN_MESSAGE = 3

/*
 * One round trip. Only sessions waiting on a lock are asked pg_blocking_pids() (it reads the lock manager's shared
 * state, so it is not called for every session), the N longest waits by the lock's waitstart (one scan of
 * pg_locks, not one per session). Blockers are read from pg_stat_activity by pid; a prepared transaction that holds
 * the lock appears as pid 0 and has no session.
 */
function locksSql(hasWaitStart: boolean): string {
  return `
WITH waits AS (
  SELECT pid, min(${hasWaitStart ? 'waitstart' : 'NULL::timestamptz'}) AS waitstart FROM pg_locks WHERE NOT granted GROUP BY pid
), waiting AS (
  SELECT a.pid, a.datname, a.usename, a.application_name, a.wait_event_type, a.wait_event,
         coalesce(w.waitstart, a.query_start) AS since, left(a.query, $2) AS query
  FROM pg_stat_activity a LEFT JOIN waits w ON w.pid = a.pid
  WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()
), top AS (
  -- pg_blocking_pids() is asked only for the N rows the LIMIT keeps.
  SELECT w.*, pg_blocking_pids(w.pid) AS blocked_by FROM (SELECT * FROM waiting ORDER BY since NULLS LAST, pid LIMIT $1) w
)
SELECT (SELECT count(*) FROM waiting) AS waiting_count,
  (SELECT coalesce(json_agg(b ORDER BY b."waitSeconds" DESC, b.pid), '[]'::json) FROM (
     SELECT pid, datname AS database, usename AS "user", application_name AS application,
            wait_event_type AS "waitEventType", wait_event AS "waitEvent",
            coalesce(extract(epoch FROM now() - since), 0)::float8 AS "waitSeconds", query, blocked_by AS "blockedBy"
     FROM top WHERE cardinality(blocked_by) > 0) b) AS blocked,
  (SELECT coalesce(json_agg(s ORDER BY s.pid), '[]'::json) FROM (
     SELECT a.pid, a.backend_start AS "backendStart", a.xact_start AS "xactStart", a.datname AS database,
            a.usename AS "user", a.application_name AS application, a.state,
            a.wait_event_type AS "waitEventType", a.wait_event AS "waitEvent",
            extract(epoch FROM now() - a.xact_start)::float8 AS "transactionSeconds",
            extract(epoch FROM now() - a.state_change)::float8 AS "stateSeconds", left(a.query, $2) AS query
     FROM pg_stat_activity a WHERE a.pid IN (SELECT unnest(blocked_by) FROM top)) s) AS blockers,
  -- Other roles' sessions seen without pg_read_all_stats: their wait event, start times and query are NULL, so a
  -- lock wait among them cannot be seen at all.
  (SELECT count(*) FROM pg_stat_activity WHERE query = '<insufficient privilege>'
     AND datname IS NOT NULL AND usename IS NOT NULL) AS hidden,
  pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS can_read_all_stats
`
}

/**
 * The heads of the blocking chains: a blocker that is not itself waiting on a lock, with every session that waits
 * behind it, directly or through another waiter. A waiter blocked only by other waiters is followed to their heads.
 */
export function blockingChains(blocked: BlockedSession[]): LocksData['chains'] {
  const byPid = new Map(blocked.map((b) => [b.pid, b]))
  const heads = (pid: number, seen: Set<number>): number[] => {
    const waiter = byPid.get(pid)
    if (!waiter) return [pid]
    if (seen.has(pid)) return [] // a cycle: a deadlock the server is about to break
    seen.add(pid)
    return waiter.blockedBy.flatMap((b) => heads(b, seen))
  }
  const chains = new Map<number, {pid: number; blockedPids: number[]; longestWaitSeconds: number}>()
  for (const b of blocked) {
    for (const head of new Set(b.blockedBy.flatMap((p) => heads(p, new Set([b.pid]))))) {
      const chain = chains.get(head) ?? {pid: head, blockedPids: [], longestWaitSeconds: 0}
      chain.blockedPids.push(b.pid)
      chain.longestWaitSeconds = Math.max(chain.longestWaitSeconds, b.waitSeconds)
      chains.set(head, chain)
    }
  }
  return [...chains.values()].sort((a, b) => b.longestWaitSeconds - a.longestWaitSeconds || a.pid - b.pid)
}

export const locksProbe: Probe<PgSession> = {
  id: 'postgres.locks',
  kind: 'postgres',
  description: 'Sessions waiting on locks and who blocks them (pg_blocking_pids), with the blocking statement, worst N',
  async collect(session, ctx): Promise<ProbeOutput> {
    requireVersion(session, 100000, 'postgres.locks (pg_stat_activity.backend_type, pg_blocking_pids)')
    const topN = intOption(ctx.options, 'locksTopN', 50)
    const row = await queryRow<LocksRow>(session, 'postgres.locks', locksSql(session.serverVersionNum === 0 || session.serverVersionNum >= 140000), [topN, SESSION_TEXT_READ_CHARS])
    await makeSessionTextsSafe([...row.blocked, ...row.blockers], ctx.options.unsafeRawQueryTexts === true)
    const chains = blockingChains(row.blocked)
    const blockers = new Map(row.blockers.map((b) => [b.pid, b]))
    const blocked = new Map(row.blocked.map((b) => [b.pid, b]))
    // Without pg_read_all_stats another role's session shows its pid but no start time, state or query.
    const hiddenBlockers = row.blockers.filter((b) => b.backendStart === null).length
    const metrics: Metric[] = chains.map((chain) => {
      const head = blockers.get(chain.pid)
      const behind = chain.blockedPids.map((p) => blocked.get(p)!).sort((a, b) => b.waitSeconds - a.waitSeconds)
      const preparedXact = chain.pid === 0
      return {
        name: 'db.lock.wait_seconds',
        subject: preparedXact ? 'a prepared transaction' : `pid ${chain.pid}`,
        value: chain.longestWaitSeconds,
        evidence: {
          vendor: 'postgres',
          pid: chain.pid,
          blocker: preparedXact ? 'a prepared transaction' : head?.backendStart
            ? `pid ${chain.pid} (${head.user}@${head.database}, ${head.application || 'no application_name'}, ${head.state})`
            : `pid ${chain.pid} (another role's session: not visible)`,
          // The blocking statement for the message: the query, or why there is none.
          statement: preparedXact ? 'a prepared transaction holds the lock (pg_prepared_xacts: roll it back or commit it)'
            : head?.query || 'its statement is not visible without pg_read_all_stats',
          backendStart: head?.backendStart ?? null,
          xactStart: head?.xactStart ?? null,
          datname: head?.database ?? behind[0]?.database ?? null,
          usename: head?.user ?? null,
          application_name: head?.application ?? null,
          state: head?.state ?? null,
          // The remedies' SQL names the session by pid, backend_start and xact_start: without them there is none.
          identified: !preparedXact && head?.backendStart && head.xactStart ? 1 : 0,
          // Only a running statement can be cancelled; a session idle in its transaction keeps the locks until it ends.
          blockerActive: head?.state === 'active' ? 1 : 0,
          wait_event_type: head?.waitEventType ?? null,
          wait_event: head?.waitEvent ?? null,
          transactionSeconds: head?.transactionSeconds ?? null,
          stateSeconds: head?.stateSeconds ?? null,
          query: head?.query ?? null,
          blockedCount: behind.length,
          blockedPids: behind.map((b) => b.pid),
          // For the one-line message: the first few, the rest counted.
          blockedPidList: behind.length <= PIDS_IN_MESSAGE ? behind.map((b) => b.pid).join(', ')
            : `${behind.slice(0, PIDS_IN_MESSAGE).map((b) => b.pid).join(', ')} and ${behind.length - PIDS_IN_MESSAGE} more`,
          blocked: behind.slice(0, BLOCKED_SHOWN).map((b) => ({pid: b.pid, usename: b.user, datname: b.database, application_name: b.application,
            waitSeconds: b.waitSeconds, wait_event: b.waitEvent, query: b.query, blockedBy: b.blockedBy})),
          longestBlocked: behind[0] ? {pid: behind[0].pid, query: behind[0].query, waitSeconds: behind[0].waitSeconds} : null,
        },
      }
    })
    const hiddenSessions = num(row.hidden)
    const limitation = (hiddenSessions > 0 || hiddenBlockers > 0) && !row.can_read_all_stats
      ? `sees only its own sessions' lock waits: ${hiddenSessions} sessions of other roles show '<insufficient privilege>' (no wait event, start time or statement), so waits among them, or blocked by them, are not seen and get no cancel or terminate; fix: GRANT pg_read_all_stats TO ${quoteRole(session.user)}`
      : undefined
    const data: LocksData = {waitingSessions: num(row.waiting_count), blocked: row.blocked, blockers: row.blockers, chains, hiddenBlockers, hiddenSessions, limitation}
    const output: ProbeOutput = {data, metrics}
    if (limitation) {
      output.status = 'skipped'
      output.reason = `postgres.locks ${limitation}`
    }
    return output
  },
}
