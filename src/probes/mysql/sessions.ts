import type {Metric, ReadingGap} from '../../core/types.js'
import type {Probe, ProbeOutput} from '../../core/probe.js'
import {round} from '../../core/numbers.js'
import type {MysqlFlavour, MysqlSession} from '../../drivers/mysql.js'
import {intOption, num} from '../postgres/skip.js'
import {queryOrSkip} from './skip.js'
import {maskLiterals} from './query-text.js'

const WHAT = 'mysql.sessions'

/* Open InnoDB transactions, oldest first, with their session; INNODB_TRX and other users' processlist rows need PROCESS. */
const TRX_SQL = `SELECT t.trx_mysql_thread_id AS id, t.trx_state AS trx_state, t.trx_started AS started,
  TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1000000 AS trx_seconds, t.trx_rows_locked AS rows_locked,
  t.trx_rows_modified AS rows_modified, p.USER AS user, p.HOST AS host, p.DB AS db, p.COMMAND AS command, p.TIME AS command_seconds, p.STATE AS state
FROM information_schema.INNODB_TRX t LEFT JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id
WHERE t.trx_mysql_thread_id <> CONNECTION_ID()
ORDER BY t.trx_started LIMIT ?`

/* Statements running now, longest first, without the server's own threads. MariaDB counts in ms (TIME_MS), MySQL in s. */
const activeSql = (flavour: MysqlFlavour) => `SELECT p.ID AS id, p.USER AS user, p.HOST AS host, p.DB AS db, p.COMMAND AS command,
  ${flavour === 'mariadb' ? 'p.TIME_MS / 1000' : 'p.TIME'} AS seconds, p.STATE AS state
FROM information_schema.PROCESSLIST p
WHERE p.COMMAND IN ('Query', 'Execute') AND p.ID <> CONNECTION_ID() AND p.USER NOT IN ('system user', 'event_scheduler')
ORDER BY seconds DESC LIMIT ?`

/*
 * Who waits for whom. MariaDB (and MySQL 5.7) list lock waits in information_schema.INNODB_LOCK_WAITS; MySQL 8 moved
 * them to performance_schema.data_lock_waits (that path is written from MySQL's documentation, unit-tested on recorded
 * rows only). A pair of transactions may wait on several locks: one row per pair.
 */
export const lockWaitsSql = (flavour: MysqlFlavour, versionNum: number) => {
  const mysql8 = flavour === 'mysql' && versionNum >= 80000
  const from = mysql8
    ? `performance_schema.data_lock_waits w
JOIN information_schema.INNODB_TRX r ON r.trx_id = w.REQUESTING_ENGINE_TRANSACTION_ID
JOIN information_schema.INNODB_TRX b ON b.trx_id = w.BLOCKING_ENGINE_TRANSACTION_ID`
    : `information_schema.INNODB_LOCK_WAITS w
JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id`
  return `SELECT r.trx_mysql_thread_id AS waiting_id, MAX(TIMESTAMPDIFF(MICROSECOND, r.trx_wait_started, NOW(6)) / 1000000) AS wait_seconds,
  b.trx_mysql_thread_id AS blocking_id
FROM ${from}
GROUP BY r.trx_mysql_thread_id, b.trx_mysql_thread_id ORDER BY wait_seconds DESC LIMIT ?`
}

/*
 * Statement texts from performance_schema, normalised by the server (literals are '?'), so no password or token in a
 * statement reaches the reading; the processlist's INFO column is the raw text and is never read. A session's current
 * row is its running statement, or its last one when it is idle. A statement still running has no digest yet on
 * MariaDB: its SQL_TEXT is masked here instead (query-text.ts), literals as '?'.
 */
const TEXTS_SQL = `SELECT th.PROCESSLIST_ID AS id, s.DIGEST_TEXT AS q, s.SQL_TEXT AS raw FROM performance_schema.threads th
JOIN performance_schema.events_statements_current s ON s.THREAD_ID = th.THREAD_ID WHERE th.PROCESSLIST_ID IN (?)`

export interface TrxRow {id: string | number; trx_state: string; started: string; trx_seconds: string | number; rows_locked: string | number; rows_modified: string | number;
  user: string | null; host: string | null; db: string | null; command: string | null; command_seconds: string | number | null; state: string | null}
export interface ActiveRow {id: string | number; user: string; host: string; db: string | null; command: string; seconds: string | number; state: string | null}
export interface WaitRow {waiting_id: string | number; wait_seconds: string | number; blocking_id: string | number}

export interface MysqlSessionsData {
  transactions: Array<{id: number; seconds: number; idle: boolean; idleSeconds: number | null; user: string | null; host: string | null; db: string | null; rowsLocked: number; rowsModified: number; query: string | null}>
  running: Array<{id: number; seconds: number; user: string; host: string; db: string | null; state: string | null; query: string | null}>
  blockers: Array<{id: number; longestWaitSeconds: number; blocked: number[]}>
  textsRead: boolean
}

/** The head of each chain of waits: the blocker that is not itself waiting (a cycle is a deadlock InnoDB resolves itself). */
export function blockingChains(waits: Array<{waiting: number; blocking: number; seconds: number}>): Array<{blocker: number; blocked: number[]; longestWaitSeconds: number}> {
  const waitsOn = new Map<number, number>()
  for (const w of waits) if (!waitsOn.has(w.waiting)) waitsOn.set(w.waiting, w.blocking)
  const head = (id: number) => {
    const seen = new Set<number>()
    let at = id
    while (waitsOn.has(at) && !seen.has(at)) {
      seen.add(at)
      at = waitsOn.get(at)!
    }
    return at
  }
  const chains = new Map<number, {blocker: number; blocked: Set<number>; longestWaitSeconds: number}>()
  for (const w of waits) {
    const blocker = head(w.blocking)
    const chain = chains.get(blocker) ?? {blocker, blocked: new Set<number>(), longestWaitSeconds: 0}
    if (w.waiting !== blocker) chain.blocked.add(w.waiting)
    chain.longestWaitSeconds = Math.max(chain.longestWaitSeconds, w.seconds)
    chains.set(blocker, chain)
  }
  return [...chains.values()].map((c) => ({blocker: c.blocker, blocked: [...c.blocked].sort((a, b) => a - b), longestWaitSeconds: c.longestWaitSeconds}))
    .sort((a, b) => b.longestWaitSeconds - a.longestWaitSeconds)
}

/** The reading from the probe's rows (pure, so recorded rows test it): long statements, idle transactions, lock waits. */
export function sessionsReading(trx: TrxRow[], active: ActiveRow[], waits: WaitRow[], texts: Map<number, string | null>, textsRead: boolean): {data: MysqlSessionsData; metrics: Metric[]} {
  const text = (id: number) => texts.get(id) ?? (textsRead ? null : 'not read: performance_schema is OFF or not readable')
  const transactions = trx.map((t) => {
    const id = num(t.id)
    const idle = t.command === 'Sleep'
    return {id, seconds: round(num(t.trx_seconds)), idle, idleSeconds: idle ? num(t.command_seconds) : null, user: t.user, host: t.host, db: t.db,
      rowsLocked: num(t.rows_locked), rowsModified: num(t.rows_modified), query: text(id)}
  })
  const running = active.map((a) => ({id: num(a.id), seconds: round(num(a.seconds)), user: a.user, host: a.host, db: a.db, state: a.state, query: text(num(a.id))}))
  const chains = blockingChains(waits.map((w) => ({waiting: num(w.waiting_id), blocking: num(w.blocking_id), seconds: num(w.wait_seconds)})))
  const who = new Map<number, {user: string | null; host: string | null; db: string | null; command: string | null; seconds?: number}>()
  for (const t of trx) who.set(num(t.id), {user: t.user, host: t.host, db: t.db, command: t.command, seconds: num(t.trx_seconds)})
  const base = (id: number, user: string | null, host: string | null, db: string | null) => ({vendor: 'mysql', pid: id, thread: id, usename: user, datname: db, application_name: host})
  const metrics: Metric[] = [
    ...running.map((r) => ({name: 'db.query.duration_seconds', subject: `thread ${r.id}`, value: r.seconds,
      evidence: {...base(r.id, r.user, r.host, r.db), state: r.state, query: r.query}})),
    ...transactions.filter((t) => t.idle).map((t) => ({name: 'db.idle_in_transaction.seconds', subject: `thread ${t.id}`, value: t.idleSeconds ?? 0,
      evidence: {...base(t.id, t.user, t.host, t.db), transactionSeconds: t.seconds, rowsLocked: t.rowsLocked, rowsModified: t.rowsModified, query: t.query}})),
    ...chains.map((c) => {
      const b = who.get(c.blocker)
      const idle = b?.command === 'Sleep'
      return {name: 'db.lock.wait_seconds', subject: `thread ${c.blocker}`, value: round(c.longestWaitSeconds), evidence: {
        ...base(c.blocker, b?.user ?? null, b?.host ?? null, b?.db ?? null),
        blocker: `thread ${c.blocker} (${b?.user ?? '?'}@${b?.db ?? '(no database)'}, ${b?.host ?? '?'}, ${idle ? 'idle in transaction' : (b?.command ?? 'unknown').toLowerCase()})`,
        statement: text(c.blocker) ?? 'its statement is not known', state: idle ? 'idle in transaction' : b?.command ?? null,
        blockerActive: idle ? 0 : 1, transactionSeconds: b?.seconds ?? null,
        blockedCount: c.blocked.length, blockedPids: c.blocked, blockedPidList: c.blocked.join(', ')}}
    }),
  ]
  return {data: {transactions, running, blockers: chains.map((c) => ({id: c.blocker, longestWaitSeconds: round(c.longestWaitSeconds), blocked: c.blocked})), textsRead}, metrics}
}

export const sessionsProbe: Probe<MysqlSession> = {
  id: WHAT,
  kind: 'mysql',
  description: 'Long-running statements, sessions idle in an open transaction, and lock waits by blocker (INNODB_TRX, PROCESSLIST, lock waits)',
  async collect(session, ctx): Promise<ProbeOutput> {
    const topN = intOption(ctx.options, 'sessionsTopN', 20)
    const [grant] = await session.query<{process: string | number}>(
      "SELECT COUNT(*) AS process FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE IN ('PROCESS', 'SUPER')")
    const trx = await queryOrSkip<TrxRow & Record<string, unknown>>(session, WHAT, 'PROCESS', TRX_SQL, [topN])
    const active = await queryOrSkip<ActiveRow & Record<string, unknown>>(session, WHAT, 'PROCESS', activeSql(session.flavour), [topN])
    const waits = await queryOrSkip<WaitRow & Record<string, unknown>>(session, WHAT, 'PROCESS', lockWaitsSql(session.flavour, session.versionNum), [topN])
    const ids = [...new Set([...trx.map((t) => num(t.id)), ...active.map((a) => num(a.id)), ...waits.flatMap((w) => [num(w.waiting_id), num(w.blocking_id)])])]
    const texts = new Map<number, string | null>()
    let textsRead = true
    if (ids.length > 0) {
      try {
        const [on] = await session.query<{on: string | number}>('SELECT @@performance_schema AS `on`')
        if (Number(on?.on ?? 0) !== 1) textsRead = false
        else for (const r of await session.query<{id: string; q: string | null; raw: string | null}>(TEXTS_SQL, [ids])) texts.set(num(r.id), r.q ?? (r.raw ? maskLiterals(r.raw) : null))
      } catch {
        textsRead = false
      }
    }
    const {data, metrics} = sessionsReading(trx, active, waits, texts, textsRead)
    const notRead: ReadingGap[] = []
    if (Number(grant?.process ?? 0) === 0) {
      notRead.push({what: 'other users\' sessions', missing: 1, of: 1, reason: 'without PROCESS only this user\'s own sessions and transactions are visible',
        fix: `GRANT PROCESS ON *.* TO '${session.user.replace(/'/g, "''")}'@'%';`})
    }
    if (!textsRead && ids.length > 0) {
      notRead.push({what: 'statement texts', missing: ids.length, of: ids.length, reason: 'texts come from performance_schema (normalised, no literals), which is OFF or not readable',
        fix: 'set performance_schema=ON in the server config and restart, and GRANT SELECT ON performance_schema.*'})
    }
    return {data, metrics, ...(notRead.length ? {notRead} : {})}
  },
}
