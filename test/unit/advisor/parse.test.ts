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
    expect(s.orderBy).toEqual([{term: {table: 'public.orders', column: 'created_at'}, desc: true}])
    expect(s.limit).toBe(true)
    expect(s.paramCount).toBe(2)
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
