import type pg from 'pg'
import {afterEach, describe, expect, it} from 'vitest'
import {remedyOfKind} from '../../../src/core/remedies.js'
import {quoteLiteral} from '../../../src/core/sql.js'
import {blockingChains, type LocksData} from '../../../src/probes/postgres/locks.js'
import {schemaOracle} from '../../helpers/fuzz.js'
import {psql} from '../../helpers/paste.js'
import {adminQuery, auditTarget, heldSessions, PRIMARY_URL, readingOf, REPLICA_URL, waitForSql, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_locks'
const RULE = 'database/blocked-sessions'
// The defaults (5 s / 30 s) need long waits; the thresholds sit lower so a test waits a fraction of a second.
const config = {rules: {[RULE]: {target: '< 100ms', action: '> 200ms'}}}

async function waitUntilBlocked(pid: number): Promise<void> {
  await waitForSql(PRIMARY_URL, `SELECT now() - l.waitstart > interval '300 milliseconds' AS ok FROM pg_locks l
                   WHERE l.pid = $1 AND NOT l.granted`, [pid])
}

describe('postgres.locks', () => {
  const sessions = heldSessions()
  afterEach(() => sessions.endAll())
  const session = (url: string, name: string) => sessions.open(url, name)

  it('fires database/blocked-sessions on a row lock held by an idle transaction, naming both pids and the blocking statement; terminate is offered and ends only that session', async () => {
    await withTempDatabase(DB, async (url) => {
      await adminQuery(url, 'CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100), (2, 100)')
      const quiet = await auditTarget(url, {onlyProbes: ['postgres.locks'], config})
      expect(readingOf(quiet.snapshot, 'postgres.locks').status).toBe('ok')
      expect(quiet.report.findings.filter((f) => f.rule === RULE && (f.evidence as {datname?: string}).datname === DB)).toEqual([])

      const blocker = await session(url, 'cp-test-blocker')
      await blocker.client.query('BEGIN')
      await blocker.client.query("UPDATE accounts SET balance = balance - 10 WHERE id = 1 AND 'secret-literal' <> ''")
      const waiter = await session(url, 'cp-test-waiter')
      const waiting = waiter.client.query('UPDATE accounts SET balance = balance + 10 WHERE id = 1')
      await waitUntilBlocked(waiter.pid)

      const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.locks'], config})
      const data = readingOf(snapshot, 'postgres.locks').data as LocksData
      expect(data.blocked.find((b) => b.pid === waiter.pid)?.blockedBy).toEqual([blocker.pid])
      const finding = report.findings.find((f) => f.rule === RULE && f.subject === `pid ${blocker.pid}`)!
      expect(finding.severity).toBe('critical')
      expect(finding.message).toContain(`pid ${blocker.pid} (postgres@${DB}, cp-test-blocker, idle in transaction) blocks 1 session(s) (pid ${waiter.pid})`)
      // The blocking statement, made safe: its literal is gone.
      expect(finding.evidence).toMatchObject({pid: blocker.pid, state: 'idle in transaction', blockerActive: 0, blockedPids: [waiter.pid],
        query: 'UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND $3 <> $4'})
      expect(JSON.stringify(snapshot)).not.toContain('secret-literal')
      expect((finding.evidence as {blocked: Array<{pid: number; query: string}>}).blocked[0]).toMatchObject({pid: waiter.pid,
        query: 'UPDATE accounts SET balance = balance + $1 WHERE id = $2'})
      expect(finding.value).toBeGreaterThan(0.3)

      // Idle in its transaction: there is no statement to cancel, so only terminate is offered.
      expect(remedyOfKind(finding.remedies, 'cancel-backend')).toBeUndefined()
      const terminate = remedyOfKind(finding.remedies, 'terminate-backend')!
      const [start] = await adminQuery(PRIMARY_URL, 'SELECT backend_start, xact_start FROM pg_stat_activity WHERE pid = $1', [blocker.pid])
      expect(terminate).toMatchObject({pid: blocker.pid, blockedPids: [waiter.pid]})
      expect(new Date(terminate.backendStart).getTime()).toBe(start.backend_start.getTime())
      expect(terminate.sql).toBe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ${blocker.pid} AND backend_start = '${terminate.backendStart}'::timestamptz AND xact_start = '${terminate.xactStart}'::timestamptz`)

      // The new remedy kinds are in the report schema, with their fields.
      expect(schemaOracle().report(JSON.parse(JSON.stringify(report)))).toBe(true)
      expect(schemaOracle().report(JSON.parse(JSON.stringify(report).replaceAll('"backendStart":', '"backendStartX":')))).toBe(false)

      // Pasted, it ends the blocker; the waiter's update then goes through. Pasted again, it ends nothing.
      expect(psql(url, `${terminate.sql};\n`).stdout.trim()).toBe('t')
      await waiting
      expect(await adminQuery(url, 'SELECT balance FROM accounts WHERE id = 1')).toEqual([{balance: 110}])
      expect(psql(url, `${terminate.sql};\n`)).toMatchObject({stdout: '', stderr: ''})

      const after = await auditTarget(url, {onlyProbes: ['postgres.locks'], config})
      expect(after.report.findings.filter((f) => f.rule === RULE && (f.evidence as {datname?: string}).datname === DB)).toEqual([])
    })
  })

  it('offers cancel first (then terminate) while the blocker runs a statement, and the pasted cancel frees the lock', async () => {
    await withTempDatabase(DB, async (url) => {
      await adminQuery(url, 'CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)')
      const blocker = await session(url, 'cp-test-blocker')
      await blocker.client.query('BEGIN')
      await blocker.client.query('UPDATE accounts SET balance = 0 WHERE id = 1')
      const sleeping = blocker.client.query('SELECT pg_sleep(60)').catch((e: Error) => e)
      const waiter = await session(url, 'cp-test-waiter')
      const waiting = waiter.client.query('UPDATE accounts SET balance = 1 WHERE id = 1').catch((e: Error) => e)
      await waitUntilBlocked(waiter.pid)

      const {report} = await auditTarget(url, {onlyProbes: ['postgres.locks'], config})
      const finding = report.findings.find((f) => f.rule === RULE && f.subject === `pid ${blocker.pid}`)!
      expect(finding.evidence).toMatchObject({state: 'active', blockerActive: 1, query: 'SELECT pg_sleep($1)'})
      const kinds = finding.remedies.map((r) => r.kind)
      expect(kinds.indexOf('cancel-backend')).toBeGreaterThanOrEqual(0)
      expect(kinds.indexOf('cancel-backend')).toBeLessThan(kinds.indexOf('terminate-backend'))
      const cancel = remedyOfKind(finding.remedies, 'cancel-backend')!
      expect(cancel.sql).toMatch(new RegExp(`^SELECT pg_cancel_backend\\(pid\\) FROM pg_stat_activity WHERE pid = ${blocker.pid} AND backend_start = '[^']+'::timestamptz AND xact_start = '[^']+'::timestamptz$`))

      // Cancelling aborts the blocker's transaction, and an aborted transaction holds no locks: the waiter goes on
      // while the blocker sits 'idle in transaction (aborted)' until its application rolls back.
      expect(psql(url, `${cancel.sql};\n`).stdout.trim()).toBe('t')
      expect(String(await sleeping)).toMatch(/canceling statement/)
      expect(await waiting).not.toBeInstanceOf(Error)
      const [state] = await adminQuery(PRIMARY_URL, 'SELECT state FROM pg_stat_activity WHERE pid = $1', [blocker.pid])
      expect(state.state).toBe('idle in transaction (aborted)')
      const again = await auditTarget(url, {onlyProbes: ['postgres.locks'], config})
      expect(again.report.findings.filter((f) => f.rule === RULE && (f.evidence as {datname?: string}).datname === DB)).toEqual([])
    })
  })

  it('names a prepared transaction that holds the lock (pid 0) without proposing to end a session', async () => {
    await withTempDatabase(DB, async (url) => {
      const gid = `cp-test-locks ${process.pid}`
      try {
        await adminQuery(url, 'CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)')
        await adminQuery(url, `BEGIN; UPDATE accounts SET balance = 0 WHERE id = 1; PREPARE TRANSACTION ${quoteLiteral(gid)}`)
        const waiter = await session(url, 'cp-test-waiter')
        const waiting = waiter.client.query('UPDATE accounts SET balance = 1 WHERE id = 1').catch((e: Error) => e)
        await waitUntilBlocked(waiter.pid)
        const {report} = await auditTarget(url, {onlyProbes: ['postgres.locks'], config})
        const finding = report.findings.find((f) => f.rule === RULE && f.subject === 'a prepared transaction' && (f.evidence as {blockedPids: number[]}).blockedPids.includes(waiter.pid))!
        expect(finding.message).toMatch(/^a prepared transaction blocks 1 session\(s\)/)
        expect(finding.remedies.map((r) => r.kind)).toEqual([])
        await adminQuery(url, `ROLLBACK PREPARED ${quoteLiteral(gid)}`)
        expect(await waiting).not.toBeInstanceOf(Error)
      } finally {
        const [row] = await adminQuery(PRIMARY_URL, 'SELECT count(*)::int AS n FROM pg_prepared_xacts WHERE gid = $1', [gid])
        if (row.n > 0) await adminQuery(url, `ROLLBACK PREPARED ${quoteLiteral(gid)}`)
      }
    })
  })

  it('says it cannot see other roles\' lock waits without pg_read_all_stats, and names the GRANT', async () => {
    const role = 'cp_noprivs_locks'
    await adminQuery(PRIMARY_URL, `DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} LOGIN; END IF; END $$`)
    try {
      await withTempDatabase(DB, async (url) => {
        await adminQuery(url, 'CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)')
        const blocker = await session(url, 'cp-test-blocker')
        await blocker.client.query('BEGIN')
        await blocker.client.query('UPDATE accounts SET balance = 0 WHERE id = 1')
        const waiter = await session(url, 'cp-test-waiter')
        const waiting = waiter.client.query('UPDATE accounts SET balance = 1 WHERE id = 1').catch((e: Error) => e)
        await waitUntilBlocked(waiter.pid)
        // xid-age reads as any role: with the locks reading skipped alone, nothing would be read and the audit incomplete.
        const {report, snapshot} = await auditTarget(url.replace('//postgres@', `//${role}@`), {onlyProbes: ['postgres.locks', 'postgres.xid-age'], config})
        const reading = readingOf(snapshot, 'postgres.locks')
        expect(reading.status).toBe('skipped')
        expect(reading.reason).toMatch(new RegExp(`sees only its own sessions' lock waits: .*fix: GRANT pg_read_all_stats TO ${role}$`))
        expect(report.gate.incomplete).toBe(false)
        expect(report.findings.filter((f) => f.rule === RULE && (f.evidence as {blockedPids: number[]}).blockedPids.includes(waiter.pid))).toEqual([])
        await blocker.client.query('ROLLBACK')
        expect(await waiting).not.toBeInstanceOf(Error)
      })
    } finally {
      await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${role}`)
    }
  })

  it('reads a streaming replica too', async () => {
    const {snapshot} = await auditTarget(REPLICA_URL, {onlyProbes: ['postgres.locks']})
    expect(readingOf(snapshot, 'postgres.locks').status).toBe('ok')
  })

  it('names the head of a chain, with every session waiting behind it', () => {
    const b = (pid: number, blockedBy: number[], waitSeconds: number) =>
      ({pid, blockedBy, waitSeconds, database: 'd', user: 'u', application: null, waitEventType: 'Lock', waitEvent: 'tuple', query: null})
    // 10 holds the lock; 11 waits on it; 12 waits on 11 (queued behind it) and on 10.
    expect(blockingChains([b(11, [10], 5), b(12, [11], 9), b(13, [0], 2)])).toEqual([
      {pid: 10, blockedPids: [11, 12], longestWaitSeconds: 9},
      {pid: 0, blockedPids: [13], longestWaitSeconds: 2},
    ])
    // A deadlock cycle (the server breaks it within deadlock_timeout) names no head.
    expect(blockingChains([b(20, [21], 1), b(21, [20], 1)])).toEqual([])
  })
})
