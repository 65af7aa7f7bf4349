import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {plansProbe, type MysqlPlansData} from '../../../src/probes/mysql/plans.js'
import type {ProbeContext} from '../../../src/core/probe.js'
import type {MysqlSession} from '../../../src/drivers/mysql.js'
import {ENABLE_HISTORY_FIX} from '../../../src/knowledge/mysql/sample-texts.js'

const fixture = (path: string) => JSON.parse(readFileSync(new URL(`fixtures/${path}`, import.meta.url), 'utf8')) as {statement: string; explain: unknown}
const SECRET = 'sk_live_UnitPlantedSecret'

/** A session answering from recorded rows: the first key the SQL contains picks the answer. */
function fakeSession(flavour: 'mysql' | 'mariadb', versionNum: number, answers: Array<[string, unknown[] | ((sql: string) => unknown[])]>, database = 'shop') {
  const sent: string[] = []
  const logged: string[] = []
  const session = {
    flavour, versionNum, database, user: 'audit', lost: undefined, sent, logged, explainTexts: new Map(),
    async query(sql: string, _params?: unknown[], logAs?: {text: string}) {
      sent.push(sql)
      logged.push(logAs?.text ?? sql)
      const hit = answers.find(([k]) => sql.includes(k))
      return (typeof hit?.[1] === 'function' ? hit[1](sql) : hit?.[1] ?? []) as any[]
    },
  }
  return session as unknown as MysqlSession & {sent: string[]; logged: string[]}
}

const ctx = (options: Record<string, unknown> = {}) => ({options, windowSeconds: 0, log: () => {}, target: {name: 'db', kind: 'mysql', url: '', options}}) as unknown as ProbeContext
const fullScan = fixture('mariadb-10.11/explain-full-scan.json')
const secretPlan = {query_block: {select_id: 1, nested_loop: [{table: {table_name: 'orders', access_type: 'ALL', rows: 20260, filtered: 100,
  attached_condition: `orders.token = '${SECRET}'`}}]}}
const digestRow = (d: string, q: string, extra: Record<string, unknown> = {}) => ({s: 'shop', d, q, c: '40', t: String(3e12), ...extra})
const catalog: Array<[string, unknown[]]> = [
  ['information_schema.STATISTICS', [{TABLE_SCHEMA: 'shop', TABLE_NAME: 'orders', NON_UNIQUE: 0, INDEX_NAME: 'PRIMARY', SEQ_IN_INDEX: 1, COLUMN_NAME: 'id', INDEX_TYPE: 'BTREE'},
    {TABLE_SCHEMA: 'other', TABLE_NAME: 'orders', NON_UNIQUE: 0, INDEX_NAME: 'PRIMARY', SEQ_IN_INDEX: 1, COLUMN_NAME: 'id', INDEX_TYPE: 'BTREE'}]],
  ['information_schema.TABLES', [{TABLE_SCHEMA: 'shop', TABLE_NAME: 'orders', ENGINE: 'InnoDB', TABLE_ROWS: 20260}]],
  ['information_schema.COLUMNS', [{s: 'shop', t: 'orders', c: 'id'}, {s: 'shop', t: 'orders', c: 'token'}]],
]

describe('mysql.plans probe (recorded rows)', () => {
  it('MySQL 8.0.3+: explains QUERY_SAMPLE_TEXT of the digest table, keeps no literal, and reads the catalog of the named tables only', async () => {
    const session = fakeSession('mysql', 80036, [
      ['@@performance_schema', [{on: 1}]],
      ['events_statements_summary_by_digest', [digestRow('d1', 'SELECT * FROM `orders` WHERE `token` = ?', {x: `SELECT * FROM orders WHERE token = '${SECRET}'`})]],
      ['EXPLAIN FORMAT=JSON', [{EXPLAIN: JSON.stringify(secretPlan)}]],
      ...catalog,
    ], '')
    const out = await plansProbe.collect(session, ctx(), undefined)
    const data = out.data as MysqlPlansData
    expect(session.sent.find((q) => q.includes('summary_by_digest'))).toMatch(/QUERY_SAMPLE_TEXT/)
    // The sample is what the server plans, in the digest's database; the history tables are not read on MySQL 8.
    expect(session.sent).toContain('USE `shop`')
    expect(session.sent).toContain(`EXPLAIN FORMAT=JSON SELECT * FROM orders WHERE token = '${SECRET}'`)
    expect(session.sent.some((q) => /setup_consumers|history/.test(q))).toBe(false)
    expect(data.sampleSource).toBe('events_statements_summary_by_digest.QUERY_SAMPLE_TEXT')
    expect(data.statements[0]).toMatchObject({id: 'd1', sql: 'SELECT * FROM orders WHERE token = ?', explained: 'statement', summary: {fullScans: ['orders']}})
    expect(JSON.stringify(out).includes(SECRET)).toBe(false)
    expect(session.logged.join('\n').includes(SECRET)).toBe(false)
    // Rows of another database's table of the same name are not this statement's.
    expect(data.catalog.indexes.map((i) => i.schema)).toEqual(['shop'])
    expect(data.catalog.tables).toHaveLength(1)
  })

  it('MariaDB: samples from events_statements_history_long; a statement EXPLAIN does not take is skipped and never sent', async () => {
    const session = fakeSession('mariadb', 101119, [
      ['@@performance_schema', [{on: 1}]],
      ['events_statements_summary_by_digest', [digestRow('d1', 'SELECT * FROM `orders` WHERE `total` > ?'), digestRow('d2', 'CALL `nightly` ( )'), digestRow('d3', 'SELECT * FROM `gone`')]],
      ['setup_consumers', [{name: 'events_statements_history', enabled: 'YES'}, {name: 'events_statements_history_long', enabled: 'YES'}]],
      ['events_statements_history_long', [{d: 'd1', s: 'shop', t: fullScan.statement}, {d: 'd2', s: 'shop', t: 'CALL nightly()'}]],
      ['EXPLAIN FORMAT=JSON', [{EXPLAIN: JSON.stringify(fullScan.explain)}]],
      ...catalog,
    ])
    const data = (await plansProbe.collect(session, ctx(), undefined)).data as MysqlPlansData
    expect(data.sampleSource).toBe('events_statements_history_long')
    expect(data.statements.map((s) => [s.id, s.explained ?? s.skipped])).toEqual([
      ['d1', 'statement'],
      ['d2', expect.stringMatching(/^CALL is not explained/)],
      ['d3', expect.stringMatching(/^no sample text of this digest in events_statements_history_long/)],
    ])
    expect(session.sent.filter((q) => /CALL|nightly/.test(q))).toEqual([])
    // Digests that cannot be a plannable statement take no slot: the server is asked for those that can.
    expect(session.sent.find((q) => q.includes('summary_by_digest'))).toContain("DIGEST_TEXT LIKE 'SELECT %' OR DIGEST_TEXT LIKE 'UPDATE %'")
    expect(session.sent.filter((q) => q.startsWith('EXPLAIN'))).toHaveLength(1)
  })

  it('MariaDB without the history consumers: nothing explained, and a gap with the UPDATE the user runs', async () => {
    const session = fakeSession('mariadb', 101119, [
      ['@@performance_schema', [{on: 1}]],
      ['events_statements_summary_by_digest', [digestRow('d1', 'SELECT * FROM `orders` WHERE `total` > ?')]],
      ['setup_consumers', [{name: 'events_statements_history', enabled: 'NO'}, {name: 'events_statements_history_long', enabled: 'NO'}]],
    ])
    const out = await plansProbe.collect(session, ctx(), undefined)
    expect(out.notRead).toEqual([expect.objectContaining({what: 'statement sample texts', fix: ENABLE_HISTORY_FIX})])
    expect(ENABLE_HISTORY_FIX).toBe("UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = 'events_statements_history_long';")
    expect(session.sent.some((q) => /^EXPLAIN|^UPDATE/.test(q))).toBe(false)
  })

  it('explains at most plansTopN statements, given ones included', async () => {
    const session = fakeSession('mariadb', 101119, [['EXPLAIN FORMAT=JSON', [{EXPLAIN: JSON.stringify(fullScan.explain)}]], ...catalog])
    const queries = Array.from({length: 5}, (_, i) => ({sql: `SELECT * FROM orders WHERE total > ${i}`}))
    const data = (await plansProbe.collect(session, ctx({queries, plansTopN: 3}), undefined)).data as MysqlPlansData
    expect(data.source).toBe('queries')
    expect(session.sent.filter((q) => q.startsWith('EXPLAIN'))).toHaveLength(3)
    expect(data.statements.map((s) => s.skipped ?? s.explained)).toEqual(['statement', 'statement', 'statement', expect.stringMatching(/beyond the 3/), expect.stringMatching(/beyond the 3/)])
    // The session's own database: no USE.
    expect(session.sent.some((q) => q.startsWith('USE'))).toBe(false)
  })
})
