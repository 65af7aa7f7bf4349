import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {candidateDdl, candidateRemedy, candidatesFor, NOT_VERIFIED, type CatalogFacts} from '../../../src/advisors/mysql-index/candidates.js'
import {indexesFromStatistics, tablesFromRows, type StatisticsRow, type TableRow} from '../../../src/knowledge/mysql/catalog.js'
import {parseExplain} from '../../../src/knowledge/mysql/explain.js'
import {statementShape} from '../../../src/knowledge/mysql/statement-shape.js'

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`fixtures/mariadb-10.11/${name}.json`, import.meta.url), 'utf8')) as T
const DB = 'chokepoint_fixture_scratch'
const catalog: CatalogFacts = {
  tables: tablesFromRows(fixture<{rows: TableRow[]}>('tables').rows),
  indexes: indexesFromStatistics(fixture<{rows: StatisticsRow[]}>('statistics').rows),
}
const shape = (sql: string) => statementShape(sql, {flavour: 'mariadb', defaultSchema: DB})
const cands = (sql: string, explainName?: string) => {
  const explain = explainName ? parseExplain(fixture<{explain: unknown}>(`explain-${explainName}`).explain) : undefined
  return candidatesFor(shape(sql), catalog, explain)
}
const cols = (r: ReturnType<typeof candidatesFor>) => r.candidates.map((c) => `${c.table}(${c.columns.join(',')}) ${c.kind}`)

describe('statementShape (node-sql-parser, MariaDB dialect)', () => {
  it('resolves aliases across a join: equalities, ranges, join keys and the sort of one table', () => {
    const s = shape("SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.status IN ('new', 'paid') AND o.total BETWEEN 1 AND 5 ORDER BY o.created_at DESC")
    expect(s.tables.map((t) => [t.table, t.aliases, t.equality, t.range, t.join, t.orderBy])).toEqual([
      ['orders', ['o'], ['status'], ['total'], ['customer_id'], [{column: 'created_at', desc: true}]],
      ['customers', ['c'], [], [], ['id'], []],
    ])
  })

  it('LIKE: a prefix is a range; a leading wildcard or a run-time pattern is a note', () => {
    expect(shape("SELECT * FROM orders WHERE note LIKE 'x%'").tables[0].range).toEqual(['note'])
    const s = shape("SELECT * FROM orders WHERE note LIKE '%x' AND status LIKE ?")
    expect(s.tables[0].range).toEqual([])
    expect(s.notes).toEqual([
      "LIKE '%x' on note starts with a wildcard: no btree index serves it (a FULLTEXT index may)",
      'LIKE on status with a pattern not known until run time: an index serves it only without a leading wildcard',
    ])
  })

  it('a function over a column is no predicate on it', () => {
    const s = shape("SELECT * FROM customers WHERE LOWER(email) = 'a@b' AND DATE(name) = '2026-01-01'")
    expect(s.tables[0].equality).toEqual([])
    expect(s.notes[0]).toMatch(/^a function over email/)
  })

  it('OR: what every branch has, else a note', () => {
    const s = shape('SELECT id FROM orders WHERE (customer_id = 1 OR customer_id = 2) AND (status = ? OR total = ?)')
    expect(s.tables[0].equality).toEqual(['customer_id'])
    expect(s.notes[0]).toMatch(/^OR across different columns/)
  })

  it('subqueries, UPDATE and DELETE, IS NULL, parameters, qualified tables, quoted names', () => {
    expect(shape('SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE email = ?)').tables.map((t) => [t.table, t.equality]))
      .toEqual([['orders', ['customer_id']], ['customers', ['email']]])
    expect(shape('UPDATE orders SET status = ? WHERE customer_id = ? AND created_at < ?').tables[0]).toMatchObject({equality: ['customer_id'], range: ['created_at']})
    expect(shape('DELETE FROM logs WHERE at < NOW() - INTERVAL 30 DAY').tables[0]).toMatchObject({table: 'logs', range: ['at']})
    expect(shape('SELECT * FROM logs WHERE msg IS NULL').tables[0].equality).toEqual(['msg'])
    expect(shape('SELECT `we``ird` FROM `other db`.`t``q` WHERE `we``ird` = 1').tables[0]).toMatchObject({schema: 'other db', table: 't`q', equality: ['we`ird']})
  })

  it('an unqualified column over two tables is resolved with the table columns, or noted', () => {
    const sql = 'SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE email = ?'
    expect(shape(sql).notes[0]).toMatch(/^column email is not qualified/)
    const columns = new Map([[`${DB}\u0000customers`, ['id', 'email', 'name']], [`${DB}\u0000orders`, ['id', 'customer_id']]])
    expect(statementShape(sql, {flavour: 'mariadb', defaultSchema: DB, columns}).tables[1].equality).toEqual(['email'])
  })

  it('text that is not SQL: one line naming the dialect', () => {
    expect(() => shape('SELEKT nothing')).toThrow(/^not parsable as MariaDB SQL: /)
  })
})

describe('candidatesFor', () => {
  it('equality, then one range column; the existing index that starts the same is made redundant', () => {
    const r = cands("SELECT * FROM orders WHERE total = 5 AND created_at > '2026-01-02'", 'full-scan')
    expect(cols(r)).toEqual(['orders(total,created_at) lookup'])
    const r2 = cands("SELECT * FROM orders WHERE status = 'paid' AND total > 3 AND created_at > '2026-01-02'")
    // (status, total): idx_status and idx_status_dup are its leading prefix.
    expect(r2.candidates.map((c) => [c.columns, c.replaces])).toEqual([[['status', 'total'], ['idx_status', 'idx_status_dup']]])
  })

  it('an index that already starts with the candidate serves it, the InnoDB primary key suffix included', () => {
    const r = cands('SELECT * FROM orders WHERE customer_id = 5', 'ref')
    expect(r.candidates).toEqual([])
    expect(r.covered).toEqual([{table: `\`${DB}\`.\`orders\``, columns: ['customer_id'], by: 'idx_customer'}])
    // (customer_id, id): idx_customer holds id implicitly.
    expect(cands('SELECT * FROM orders WHERE customer_id = 5 AND id > 3').candidates).toEqual([])
    expect(cands("SELECT * FROM orders WHERE status = 'x' AND created_at > NOW()").covered.map((c) => c.by)).toEqual(['idx_status_created'])
  })

  it('ORDER BY after the equalities when there is no range: no filesort; not after a range', () => {
    expect(cols(cands('SELECT * FROM orders WHERE total = 3 ORDER BY created_at'))).toEqual(['orders(total) lookup', 'orders(total,created_at) sort'])
    expect(cols(cands('SELECT * FROM orders WHERE total > 3 ORDER BY created_at'))).toEqual(['orders(total) lookup'])
    // The range column is the sort column: the one index does both.
    expect(cols(cands('SELECT * FROM orders WHERE total > 3 ORDER BY total'))).toEqual(['orders(total) lookup'])
    const mixed = cands('SELECT * FROM logs ORDER BY at DESC, msg ASC').candidates
    expect(mixed.map((c) => [c.columns, c.desc])).toEqual([[['at', 'msg'], [true, false]]])
  })

  it('GROUP BY in index order, after the equalities', () => {
    expect(cols(cands('SELECT total, COUNT(*) FROM orders GROUP BY total', 'group-temporary'))).toEqual(['orders(total) group'])
  })

  it('joins: each side by its join key; IN lists are equalities; a trailing primary key column is implicit', () => {
    const r = cands("SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.total = 7 AND c.name IN ('a', 'b')", 'join-eq-ref')
    // customers (name, id) is customers (name) in InnoDB; orders (total, customer_id) both joins and covers.
    expect(cols(r)).toEqual(['orders(total) lookup', 'orders(total,customer_id) join', 'customers(name) lookup', 'customers(name,email) covering'])
    const inner = cands('SELECT c.name FROM orders o JOIN customers c ON c.email = o.note WHERE o.total = 1')
    // customers (email) is uq_email already; holding name too makes the inner lookup index-only.
    expect(cols(inner)).toEqual(['orders(total) lookup', 'orders(total,note) join', 'customers(email,name) covering'])
    expect(inner.covered).toEqual([{table: `\`${DB}\`.\`customers\``, columns: ['email'], by: 'uq_email'}])
  })

  it('BETWEEN and LIKE prefix are ranges; a function or a leading wildcard gives no candidate', () => {
    expect(cols(cands('SELECT * FROM orders WHERE total BETWEEN 1 AND 9'))).toEqual(['orders(total) lookup'])
    expect(cols(cands("SELECT * FROM customers WHERE name LIKE 'name 1%'", 'subquery'))).toEqual(['customers(name) lookup'])
    const none = cands("SELECT * FROM customers WHERE LOWER(name) = 'x' OR name LIKE '%x'")
    expect(none.candidates).toEqual([])
    expect(none.notes.length).toBeGreaterThan(0)
  })

  it('covering: few columns read and a plan that is not index-only, the primary key left out', () => {
    const r = cands('SELECT id, total, created_at FROM orders WHERE total = 5', 'full-scan')
    expect(cols(r)).toEqual(['orders(total) lookup', 'orders(total,created_at) covering'])
    expect(cols(cands('SELECT * FROM orders WHERE total = 5', 'full-scan'))).toEqual(['orders(total) lookup'])
    // A plan that reads through an index alone already needs no covering variant.
    const indexOnly = parseExplain({query_block: {select_id: 1, table: {table_name: 'orders', access_type: 'ref', key: 'idx_total', rows: 3, using_index: true}}})
    expect(cols(candidatesFor(shape('SELECT id, total, created_at FROM orders WHERE total = 5'), catalog, indexOnly))).toEqual(['orders(total) lookup'])
  })

  it('a table missing from the catalog is noted, not guessed', () => {
    expect(cands('SELECT * FROM nowhere WHERE a = 1').notes).toEqual([`\`${DB}\`.\`nowhere\` is not in the catalog read (a view, a temporary table, or another database)`])
  })
})

describe('candidate remedies', () => {
  const big = {schema: 'shop', table: 'orders', engine: 'InnoDB', rows: 50_000_000, dataBytes: 8 * 1024 ** 3, indexBytes: 0}
  const small = {...big, rows: 1000, dataBytes: 1 << 20}
  const c = {schema: 'shop', table: 'orders', columns: ['customer_id', 'created_at'], desc: [false, false], kind: 'lookup' as const, why: 'x', replaces: []}

  it('CREATE INDEX online, unverified with the reason', () => {
    const r = candidateRemedy(c, small, [], ['stmt-1'])
    expect(r.sql).toBe('CREATE INDEX `idx_orders_customer_id_created_at` ON `shop`.`orders` (`customer_id`, `created_at`) ALGORITHM=INPLACE LOCK=NONE;')
    expect(r).toMatchObject({kind: 'index', verified: false, notVerified: NOT_VERIFIED, statements: ['stmt-1'], columns: ['customer_id', 'created_at']})
    expect(r.onlineSchemaChange).toBeUndefined()
  })

  it('a large table gets pt-online-schema-change and gh-ost, shell-quoted', () => {
    const {online} = candidateDdl(c, big, [])
    expect(online?.ptOnlineSchemaChange).toBe("pt-online-schema-change '--alter=ADD INDEX `idx_orders_customer_id_created_at` (`customer_id`, `created_at`)' 'D=shop,t=orders' --execute")
    expect(online?.ghOst).toBe("gh-ost '--database=shop' '--table=orders' '--alter=ADD INDEX `idx_orders_customer_id_created_at` (`customer_id`, `created_at`)' --execute")
    const odd = candidateDdl({...c, table: "o,r'd=x"}, {...big, table: "o,r'd=x"}, [])
    expect(odd.online?.ptOnlineSchemaChange).toBeUndefined()
    expect(odd.online?.ptOnlineSchemaChangeRefused).toMatch(/comma or an equals sign/)
    expect(odd.online?.ghOst).toContain("'--table=o,r'\\''d=x'")
  })

  it('names: 64 characters at most, never one the table has', () => {
    const long = {...c, columns: ['a'.repeat(40), 'b'.repeat(40)]}
    expect(candidateDdl(long, small, []).name).toHaveLength(64)
    const existing = indexesFromStatistics([{TABLE_SCHEMA: 'shop', TABLE_NAME: 'orders', NON_UNIQUE: 1, INDEX_NAME: 'idx_orders_customer_id_created_at', SEQ_IN_INDEX: 1, COLUMN_NAME: 'x', INDEX_TYPE: 'BTREE'}])
    expect(candidateDdl(c, small, existing).name).toBe('idx_orders_customer_id_created_at_2')
  })
})
