import {afterEach, describe, expect, it} from 'vitest'
import type {Finding} from '../../../src/core/types.js'
import {adminQuery, auditTarget, heldSessions, PRIMARY_URL, waitForSql, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_diag_locks'
// The defaults need waits of seconds to minutes; these sit low so the test waits a fraction of a second.
const config = {rules: {
  'database/blocked-sessions': {target: '< 100ms', action: '> 200ms'},
  'database/long-running-query': {target: '< 100ms', action: '> 200ms'},
  'database/idle-in-transaction': {target: '< 100ms', action: '> 200ms'},
}}

describe('diagnosis: one session holding a lock', () => {
  const sessions = heldSessions()
  afterEach(() => sessions.endAll())
  const session = (url: string, name: string) => sessions.open(url, name)

  it('lists the blocker\'s idle transaction and the waiter\'s long statement under the blocked-sessions cause, and leaves an unrelated slow statement alone', async () => {
    await withTempDatabase(DB, async (url) => {
      await adminQuery(url, 'CREATE TABLE accounts (id int PRIMARY KEY, balance int); INSERT INTO accounts VALUES (1, 100)')
      const blocker = await session(url, 'cp-test-blocker')
      await blocker.client.query('BEGIN')
      await blocker.client.query('UPDATE accounts SET balance = balance - 10 WHERE id = 1')
      const waiter = await session(url, 'cp-test-waiter')
      const waiting = waiter.client.query('UPDATE accounts SET balance = balance + 10 WHERE id = 1').catch(() => {})
      const sleeper = await session(url, 'cp-test-sleeper')
      const sleeping = sleeper.client.query('SELECT pg_sleep(30)').catch(() => {})
      await waitForSql(PRIMARY_URL, `SELECT now() - l.waitstart > interval '300 milliseconds' AS ok FROM pg_locks l WHERE l.pid = $1 AND NOT l.granted`, [waiter.pid])
      await waitForSql(PRIMARY_URL, `SELECT now() - query_start > interval '300 milliseconds' AS ok FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [sleeper.pid])

      const {report} = await auditTarget(url, {onlyProbes: ['postgres.locks', 'postgres.activity'], config})
      const mine = (rule: string, pid: number): Finding => {
        const f = report.findings.find((x) => x.rule === rule && (x.evidence as {pid?: number}).pid === pid)
        if (!f) throw new Error(`no ${rule} finding for pid ${pid}: ${report.findings.map((x) => `${x.rule} ${x.subject}`).join('; ')}`)
        return f
      }
      const cause = mine('database/blocked-sessions', blocker.pid)
      const idle = mine('database/idle-in-transaction', blocker.pid)
      const waits = mine('database/long-running-query', waiter.pid)
      const unrelated = mine('database/long-running-query', sleeper.pid)

      expect(cause.causeId).toBeUndefined()
      expect(idle.causeId).toBe(cause.id)
      expect(waits.causeId).toBe(cause.id)
      expect(unrelated.causeId).toBeUndefined()
      const entry = report.diagnosis.find((d) => d.cause === cause.id)!
      expect(entry.explains).toEqual(expect.arrayContaining([idle.id, waits.id]))
      expect(entry.explains).not.toContain(unrelated.id)
      expect(entry.remedy).toBe(cause.remedies[0].id)

      await adminQuery(PRIMARY_URL, 'SELECT pg_cancel_backend($1)', [sleeper.pid])
      await blocker.client.query('ROLLBACK')
      await Promise.all([waiting, sleeping])
    })
  })
})
