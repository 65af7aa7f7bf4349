import {describe, expect, it} from 'vitest'
import {applyVerification, verifyProposal, verifyRealRefusal, type VerifySession} from '../../../src/advisors/mysql-index/verify.js'
import type {AdvisorFinding} from '../../../src/core/advisor.js'

const plan = (key: string | null, rows: number) => JSON.stringify({query_block: {select_id: 1, table: {table_name: 'orders', access_type: key ? 'ref' : 'ALL', ...(key ? {key} : {}), rows, filtered: 100}}})

function fakeSession(opts: {afterFails?: boolean; comment?: string; table?: number; readOnly?: boolean; isReplica?: boolean} = {}): VerifySession & {sent: string[]} {
  const sent: string[] = []
  let built = false
  return {
    flavour: 'mariadb', readOnly: opts.readOnly ?? false, isReplica: opts.isReplica ?? false, sent,
    async query(sql: string) {
      sent.push(sql)
      if (sql.includes('SCHEMA_COMMENT')) return [{c: opts.comment ?? ''}] as any[]
      if (sql.includes('information_schema.TABLES')) return [{n: opts.table ?? 0}] as any[]
      if (sql.startsWith('CREATE INDEX')) built = true
      if (sql.startsWith('DROP INDEX')) built = false
      if (sql.startsWith('EXPLAIN')) {
        if (built && opts.afterFails) throw new Error('Lost connection to server during query')
        return [{EXPLAIN: built ? plan('idx_orders_customer_id', 30) : plan(null, 20000)}] as any[]
      }
      return [] as any[]
    },
  }
}

const finding = {rule: 'database/missing-index', severity: 'warning', target: 'db', subject: '`shop`.`orders` customer_id', metric: 'm', value: 1,
  message: 'likely missing index on `shop`.`orders` (not verified: neither MySQL nor MariaDB has hypothetical indexes (--verify-real … drops it)): equality on customer_id',
  evidence: {schema: 'shop', table: 'orders', indexName: 'idx_orders_customer_id', definition: 'CREATE INDEX `idx_orders_customer_id` ON `shop`.`orders` (`customer_id`) ALGORITHM=INPLACE LOCK=NONE;',
    statements: ['d1'], verified: false, notVerified: 'not verified: …'},
  remedies: [{kind: 'index', summary: 's', sql: 'CREATE …', verified: false, notVerified: 'not verified: …'}]} as unknown as AdvisorFinding
const statements = [{id: 'd1', schema: 'shop', text: 'SELECT * FROM orders WHERE customer_id = 7'}]

describe('--verify-real for MySQL/MariaDB', () => {
  it('builds, explains before and after, drops, and marks the proposal verified', async () => {
    const session = fakeSession()
    const result = await verifyProposal(session, finding, statements)
    expect(result).toEqual({verified: true, rowsExaminedBefore: 20000, rowsExaminedAfter: 30, why: 'verified on a scratch database: built, used by 1 statement(s), rows examined 20000 → 30, dropped'})
    expect(session.sent.filter((q) => /^(CREATE|DROP) INDEX/.test(q))).toEqual([
      'CREATE INDEX `idx_orders_customer_id` ON `shop`.`orders` (`customer_id`) ALGORITHM=INPLACE LOCK=NONE',
      'DROP INDEX `idx_orders_customer_id` ON `shop`.`orders`',
    ])
    const applied = applyVerification(finding, result)
    expect(applied.evidence).toMatchObject({verified: true, rowsExaminedBefore: 20000, rowsExaminedAfter: 30})
    expect(applied.evidence.notVerified).toBeUndefined()
    expect(applied.remedies[0]).toMatchObject({verified: 'real'})
    expect((applied.remedies[0] as {notVerified?: string}).notVerified).toBeUndefined()
    expect(applied.message).toBe('likely missing index on `shop`.`orders` (verified on a scratch database: built, used by 1 statement(s), rows examined 20000 → 30, dropped): equality on customer_id')
  })

  it('drops the index when explaining with it fails, and leaves the proposal unverified with why', async () => {
    const session = fakeSession({afterFails: true})
    const result = await verifyProposal(session, finding, statements)
    expect(result.verified).toBe(false)
    expect(result.why).toMatch(/^not verified: built and dropped, but explaining with it failed \(Lost connection/)
    expect(session.sent.at(-1)).toBe('DROP INDEX `idx_orders_customer_id` ON `shop`.`orders`')
  })

  it('refuses without both the mark in the database and the scratch option, and on a replica', async () => {
    expect(await verifyRealRefusal(fakeSession(), 'shop', true)).toBe("--verify-real refused: the database must be marked scratch (the database `shop` is not marked (ALTER DATABASE `shop` COMMENT 'chokepoint:scratch'))")
    expect(await verifyRealRefusal(fakeSession({comment: 'chokepoint:scratch'}), 'shop', false)).toBe('--verify-real refused: the database must be marked scratch (the target option scratch: true is not set)')
    expect(await verifyRealRefusal(fakeSession({comment: 'copy of prod; chokepoint:scratch'}), 'shop', true)).toBeUndefined()
    expect(await verifyRealRefusal(fakeSession({table: 1}), 'shop', true)).toBeUndefined()
    expect(await verifyRealRefusal(fakeSession({comment: 'chokepoint:scratch', isReplica: true}), 'shop', true)).toMatch(/the server is a replica/)
  })
})
