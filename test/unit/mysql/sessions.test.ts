import {describe, expect, it} from 'vitest'
import {blockingChains, lockWaitsSql, sessionsReading} from '../../../src/probes/mysql/sessions.js'
import {maskLiterals, WITHHELD} from '../../../src/probes/mysql/query-text.js'

describe('mysql.sessions', () => {
  it('names the head of each chain of lock waits, with everyone behind it', () => {
    // 12 waits on 11, which waits on 10; 13 waits on 10 directly.
    expect(blockingChains([{waiting: 12, blocking: 11, seconds: 3}, {waiting: 11, blocking: 10, seconds: 8}, {waiting: 13, blocking: 10, seconds: 1}]))
      .toEqual([{blocker: 10, blocked: [11, 12, 13], longestWaitSeconds: 8}])
  })

  it('reads lock waits from information_schema on MariaDB and from performance_schema.data_lock_waits on MySQL 8 (from the documentation)', () => {
    expect(lockWaitsSql('mariadb', 101119)).toContain('information_schema.INNODB_LOCK_WAITS')
    expect(lockWaitsSql('mysql', 80036)).toContain('performance_schema.data_lock_waits')
    expect(lockWaitsSql('mysql', 80036)).toContain('REQUESTING_ENGINE_TRANSACTION_ID')
  })

  it('turns recorded rows into the shared session metrics', () => {
    const trx = [
      {id: '41', trx_state: 'RUNNING', started: '2026-12-01 10:00:00', trx_seconds: '95.5', rows_locked: '1', rows_modified: '1', user: 'app', host: '10.0.0.9:5123', db: 'shop', command: 'Sleep', command_seconds: '90', state: ''},
      {id: '42', trx_state: 'LOCK WAIT', started: '2026-12-01 10:01:00', trx_seconds: '12', rows_locked: '0', rows_modified: '0', user: 'app', host: '10.0.0.9:5124', db: 'shop', command: 'Query', command_seconds: '12', state: 'Updating'},
    ]
    const active = [{id: '42', user: 'app', host: '10.0.0.9:5124', db: 'shop', command: 'Query', seconds: '12.250', state: 'Updating'}]
    const waits = [{waiting_id: '42', wait_seconds: '11.9', blocking_id: '41'}]
    const texts = new Map([[41, 'UPDATE `orders` SET `paid` = ? WHERE `id` = ?'], [42, 'UPDATE `orders` SET `paid` = ? WHERE `id` = ?']])
    const {metrics, data} = sessionsReading(trx, active, waits, texts, true)
    expect(metrics.map((m) => [m.name, m.subject, m.value])).toEqual([
      ['db.query.duration_seconds', 'thread 42', 12.25],
      ['db.idle_in_transaction.seconds', 'thread 41', 90],
      ['db.lock.wait_seconds', 'thread 41', 11.9],
    ])
    expect(metrics[2].evidence).toMatchObject({pid: 41, blockedPids: [42], blockerActive: 0, state: 'idle in transaction', blocker: 'thread 41 (app@shop, 10.0.0.9:5123, idle in transaction)'})
    expect(data.transactions[0]).toMatchObject({id: 41, idle: true, idleSeconds: 90, seconds: 95.5})
  })
})

describe('statement texts from the raw SQL', () => {
  it('masks every literal the way a digest does, keeping names', () => {
    expect(maskLiterals("SELECT * FROM `t1` WHERE token = 'abc\\'d' AND n IN (1, 2.5e3, 0x1F) -- pw\n AND s = \"x\"\"y\""))
      .toBe('SELECT * FROM `t1` WHERE token = ? AND n IN (?, ?, ?) AND s = ?')
  })

  it('withholds statements that carry credentials', () => {
    expect(maskLiterals("CREATE USER 'a'@'%' IDENTIFIED BY 'secret'")).toBe(WITHHELD)
    expect(maskLiterals("/* x */ change master to master_password='secret'")).toBe(WITHHELD)
    expect(maskLiterals("SET PASSWORD FOR 'a' = PASSWORD('secret')")).toBe(WITHHELD)
  })
})
