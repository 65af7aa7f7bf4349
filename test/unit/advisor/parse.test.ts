import {describe, expect, it} from 'vitest'
import {extractShape, parameterCount} from '../../../src/knowledge/postgres/parse.js'
import {ensureParser} from '../../../src/knowledge/postgres/workload.js'

const catalog = {
  columns: {
    'public.users': ['id', 'email', 'name', 'created_at'],
    'public.orders': ['id', 'user_id', 'status', 'total', 'created_at', 'tags', 'data'],
    'app.Mixed Case': ['Id', 'Some Col'],
  },
}

describe('extractShape', () => {
  it('resolves aliases and reads equality, range, IN, LIKE, join keys and ORDER BY', async () => {
    const s = await extractShape(`SELECT u.id FROM users u JOIN orders o ON o.user_id = u.id
      WHERE lower(u.email) = $1 AND o.status = 'paid' AND o.total > 5 AND o.tags @> '{a}' AND u.name LIKE '%a%'
        AND o.id IN (1, 2) AND 10 <= o.total AND (o.data->>'k') = $2
      ORDER BY o.created_at DESC LIMIT 10`, catalog)
    expect(s.command).toBe('select')
    expect(s.tables).toEqual(['public.users', 'public.orders'])
    expect(s.joins).toEqual([{left: {table: 'public.orders', column: 'user_id'}, right: {table: 'public.users', column: 'id'}}])
    const p = s.predicates.map((x) => [x.term.table, x.term.expression ?? x.term.column, x.kind, x.operator, x.value, x.literal])
    expect(p).toEqual([
      ['public.users', 'lower("email")', 'eq', '=', 'param', undefined],
      ['public.orders', 'status', 'eq', '=', 'constant', "'paid'"],
      ['public.orders', 'total', 'range', '>', 'constant', '5'],
      ['public.orders', 'tags', 'contains', '@>', 'constant', "'{a}'"],
      ['public.users', 'name', 'like-infix', 'LIKE', 'constant', undefined],
      ['public.orders', 'id', 'in', 'IN', 'param', undefined],
      ['public.orders', 'total', 'range', '>=', 'constant', '10'],
      ['public.orders', `("data" ->> 'k')`, 'eq', '=', 'param', undefined],
    ])
    expect(s.predicates[7].term.expression).toBe(`("data" ->> 'k')`)
    // Which $n each parameter predicate compares with: a cache key names the column of each (src/advisors/cache-aside.ts).
    expect(s.predicates.map((x) => x.param)).toEqual([1, undefined, undefined, undefined, undefined, undefined, undefined, 2])
    expect(s.orderBy).toEqual([{term: {table: 'public.orders', column: 'created_at'}, desc: true}])
    expect(s.limit).toBe(true)
    expect(s.paramCount).toBe(2)
  })

  it('numbers a parameter compared on either side, through a cast', async () => {
    const s = await extractShape('SELECT id FROM orders WHERE $2::int = user_id AND status = $1::text', catalog)
    expect(s.predicates.map((x) => [x.term.column, x.kind, x.param])).toEqual([['user_id', 'eq', 2], ['status', 'eq', 1]])
  })

  it('resolves unqualified columns through the catalog, subqueries, CTEs and DML', async () => {
    const s = await extractShape(`WITH recent AS (SELECT user_id FROM orders WHERE created_at >= $1)
      SELECT email FROM users WHERE id IN (SELECT user_id FROM recent) GROUP BY email`, catalog)
    expect(s.tables).toEqual(['public.orders', 'public.users'])
    expect(s.predicates.map((p) => `${p.term.table}.${p.term.column}:${p.kind}`)).toEqual(['public.orders.created_at:range', 'public.users.id:in'])
    expect(s.groupBy).toEqual([{table: 'public.users', column: 'email'}])
    const d = await extractShape(`DELETE FROM app."Mixed Case" WHERE "Some Col" = $1`, catalog)
    expect(d.command).toBe('delete')
    expect(d.written).toBe('app.Mixed Case')
    expect(d.predicates[0].term).toEqual({table: 'app.Mixed Case', column: 'Some Col'})
    const u = await extractShape(`UPDATE orders SET status = $1 WHERE user_id = $2 AND created_at < now()`, catalog)
    expect(u.predicates.map((p) => [p.term.column, p.kind, p.value])).toEqual([['user_id', 'eq', 'param'], ['created_at', 'range', 'expression']])
  })

  it('skips OR branches and counts parameters', async () => {
    await ensureParser()
    const s = await extractShape('SELECT * FROM orders WHERE status = $1 OR total > $2', catalog)
    expect(s.predicates).toEqual([])
    expect(parameterCount('SELECT * FROM orders WHERE id = $3')).toBe(3)
  })
})

describe('extractShape through views, CTEs, subqueries and OR branches', () => {
  const withView = {
    ...catalog,
    columns: {...catalog.columns, 'public.paid_orders': ['oid', 'uid', 'total', 'email']},
    views: {'public.paid_orders': `SELECT o.id AS oid, o.user_id AS uid, o.total, u.email FROM orders o JOIN users u ON u.id = o.user_id WHERE o.status = 'paid'`},
  }

  it('looks through a view to its base tables and columns', async () => {
    const s = await extractShape('SELECT sum(total) FROM paid_orders WHERE uid = $1', withView)
    expect(s.tables).toEqual(['public.orders', 'public.users'])
    expect(s.predicates.map((p) => `${p.term.table}.${p.term.column}:${p.kind}`)).toEqual(['public.orders.status:eq', 'public.orders.user_id:eq'])
    expect(s.joins).toEqual([{left: {table: 'public.users', column: 'id'}, right: {table: 'public.orders', column: 'user_id'}}])
    // Only what the statement reads through the view: total and uid, plus the view's own filter and join columns.
    expect(s.read['public.orders'].sort()).toEqual(['status', 'total', 'user_id'])
    expect(s.read['public.users']).toEqual(['id'])
  })

  it('maps CTE and derived-table columns, renamed or not, to base columns', async () => {
    const s = await extractShape(`WITH r(cust) AS (SELECT user_id FROM orders) SELECT count(*) FROM r WHERE cust = $1`, catalog)
    expect(s.predicates.map((p) => `${p.term.table}.${p.term.column}`)).toEqual(['public.orders.user_id'])
    const d = await extractShape('SELECT d.t FROM (SELECT total AS t, created_at FROM orders) d WHERE d.created_at >= $1 ORDER BY d.t', catalog)
    expect(d.predicates.map((p) => `${p.term.column}:${p.kind}`)).toEqual(['created_at:range'])
    expect(d.orderBy).toEqual([{term: {table: 'public.orders', column: 'total'}, desc: false}])
    expect(d.read['public.orders'].sort()).toEqual(['created_at', 'total'])
  })

  it('keeps the join key and filter columns every OR branch has, and nothing else of the OR', async () => {
    const s = await extractShape(`SELECT count(*) FROM orders o, users u
      WHERE (u.id = o.user_id AND o.status = 'paid' AND o.total < 5) OR (o.user_id = u.id AND o.status = 'new' AND u.name = $1)`, catalog)
    expect(s.joins).toEqual([{left: {table: 'public.users', column: 'id'}, right: {table: 'public.orders', column: 'user_id'}}])
    expect(s.predicates.map((p) => `${p.term.column}:${p.kind}`)).toEqual(['status:in'])
    const same = await extractShape(`SELECT * FROM orders WHERE (status = 'paid' AND total > 5) OR (status = 'paid' AND total < 1)`, catalog)
    expect(same.predicates.map((p) => `${p.term.column}:${p.kind}:${p.literal ?? ''}`)).toEqual([`status:eq:'paid'`, 'total:range:'])
  })

  it('reads every column an aggregate or expression reads, and * as the whole row', async () => {
    const s = await extractShape('SELECT status, sum(total * 2), count(DISTINCT user_id) FROM orders WHERE created_at >= $1 GROUP BY status', catalog)
    expect(s.read['public.orders'].sort()).toEqual(['created_at', 'status', 'total', 'user_id'])
    const star = await extractShape('SELECT * FROM orders WHERE id = $1', catalog)
    expect(star.read['public.orders']).toContain('*')
  })
})

describe('extractShape of correlated subqueries', () => {
  it('reads the correlation as a join key, or as a lookup when the subquery reads the outer query\'s table', async () => {
    const e = await extractShape('SELECT id FROM users u WHERE EXISTS (SELECT 1 FROM orders o WHERE o.user_id = u.id AND o.total > 40)', catalog)
    expect(e.joins).toEqual([{left: {table: 'public.orders', column: 'user_id'}, right: {table: 'public.users', column: 'id'}}])
    const self = await extractShape('SELECT id FROM orders o WHERE total > (SELECT avg(total) FROM orders o2 WHERE o2.user_id = o.user_id)', catalog)
    expect(self.predicates.map((p) => `${p.term.column}:${p.kind}`)).toContain('user_id:eq')
  })
})

describe('extractShape of recursive CTEs', () => {
  it('never takes a recursive CTE\'s reference to itself for a table', async () => {
    const withT = {...catalog, columns: {...catalog.columns, 'public.t': ['id']}}
    const s = await extractShape(`WITH RECURSIVE t(id) AS (SELECT id FROM users WHERE id = $1 UNION ALL SELECT o.id FROM orders o JOIN t ON o.user_id = t.id)
      SELECT * FROM t`, withT)
    expect(s.tables).toEqual(['public.users', 'public.orders'])
  })
})
