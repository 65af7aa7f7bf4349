import {beforeAll, describe, expect, it} from 'vitest'
import type {CatalogFacts, ColumnFacts, ExistingIndex, TableFacts} from '../../../src/knowledge/postgres/catalog.js'
import {columnsOf} from '../../../src/knowledge/postgres/catalog.js'
import {generateCandidates, indexDefinition} from '../../../src/advisors/index-advisor/candidates.js'
import {extractShapeSync} from '../../../src/knowledge/postgres/parse.js'
import {ensureParser} from '../../../src/knowledge/postgres/workload.js'

const col = (name: string, type: string, nDistinct: number, extra: Partial<ColumnFacts> = {}): ColumnFacts =>
  ({name, type, nDistinct, nullFrac: 0, avgWidth: 8, ...extra})

const table = (name: string, rows: number, columns: ColumnFacts[]): TableFacts =>
  ({key: `public.${name}`, schema: 'public', name, rows, pages: rows / 100, sizeBytes: rows * 100, columns, writes: 0, writeRate: 0, partitioned: false})

function catalog(opts: {extensions?: string[]; indexes?: ExistingIndex[]} = {}): CatalogFacts {
  const tables = [
    table('orders', 1e6, [
      col('id', 'integer', -1), col('customer_id', 'integer', 50_000), col('store_id', 'integer', 500),
      col('status', 'text', 4, {mcv: ['paid', 'shipped', 'new', 'cancelled'], mcf: [0.6, 0.3, 0.05, 0.05]}),
      col('created_at', 'timestamp with time zone', -1), col('total', 'numeric', 1000),
    ]),
    table('users', 2e5, [col('id', 'integer', -1), col('email', 'text', -1), col('name', 'text', -0.5)]),
    table('docs', 1e5, [col('id', 'integer', -1), col('attrs', 'jsonb', -1), col('tags', 'text[]', -1), col('title', 'text', -1)]),
  ]
  return {
    tables: Object.fromEntries(tables.map((t) => [t.key, t])), indexes: opts.indexes ?? [], extensions: opts.extensions ?? ['plpgsql'], searchPath: ['public'],
    settings: {workMemBytes: 4 << 20, randomPageCost: 4, seqPageCost: 1, blockSize: 8192}, statsSeconds: 3600,
  }
}

function candidatesFor(sqls: string[], cat = catalog()) {
  const shapes = sqls.map((s) => extractShapeSync(s, columnsOf(cat)))
  const set = generateCandidates(shapes, cat)
  return {...set, defs: set.candidates.map((c) => indexDefinition(c, cat))}
}

beforeAll(async () => {
  await ensureParser()
})

describe('generateCandidates', () => {
  it('orders keys: equalities (most selective first), then one range, or the sort order', () => {
    const {defs} = candidatesFor([
      'SELECT * FROM orders WHERE store_id = $1 AND customer_id = $2 AND created_at > $3',
      'SELECT * FROM orders WHERE store_id = $1 ORDER BY created_at DESC LIMIT 10',
    ])
    expect(defs).toContain('CREATE INDEX ON "public"."orders" USING btree ("customer_id", "store_id", "created_at")')
    expect(defs).toContain('CREATE INDEX ON "public"."orders" USING btree ("store_id", "created_at")')
    // A range column never precedes an equality column, and a single direction sort keeps no DESC.
    expect(defs.some((d) => /\("created_at", "(customer|store)_id"/.test(d))).toBe(false)
    expect(defs.some((d) => d.includes('DESC'))).toBe(false)
  })

  it('keeps DESC only for mixed sort directions', () => {
    const {defs} = candidatesFor(['SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC, id'])
    expect(defs).toContain('CREATE INDEX ON "public"."orders" USING btree ("customer_id", "created_at" DESC, "id")')
  })

  it('proposes a partial index for a selective constant and not for a common one', () => {
    const selective = candidatesFor(["SELECT * FROM orders WHERE status = 'new' ORDER BY created_at"])
    expect(selective.defs).toContain(`CREATE INDEX ON "public"."orders" USING btree ("created_at") WHERE "status" = 'new'`)
    const common = candidatesFor(["SELECT * FROM orders WHERE status = 'paid' ORDER BY created_at"])
    expect(common.candidates.filter((c) => c.where)).toEqual([])
  })

  it('proposes an expression index for lower(col)', () => {
    const {candidates, defs} = candidatesFor(['SELECT id FROM users WHERE lower(email) = $1'])
    expect(defs).toContain('CREATE INDEX ON "public"."users" USING btree ((lower("email")))')
    expect(candidates.find((c) => c.keys[0].sql === 'lower("email")')?.kind).toBe('expression')
  })

  it('proposes GIN for jsonb and array containment', () => {
    const {defs} = candidatesFor([`SELECT id FROM docs WHERE attrs @> '{"a": 1}'`, `SELECT id FROM docs WHERE tags @> ARRAY['x']`])
    expect(defs).toContain('CREATE INDEX ON "public"."docs" USING gin ("attrs")')
    expect(defs).toContain('CREATE INDEX ON "public"."docs" USING gin ("tags")')
  })

  it('proposes a trigram index only when pg_trgm is installed, else says how to get it', () => {
    const sql = `SELECT id FROM docs WHERE title LIKE '%report%'`
    const without = candidatesFor([sql])
    expect(without.candidates.filter((c) => c.method === 'gin')).toEqual([])
    expect(without.notes[0]?.join(' ')).toMatch(/CREATE EXTENSION pg_trgm/)
    const withTrgm = candidatesFor([sql], catalog({extensions: ['plpgsql', 'pg_trgm']}))
    expect(withTrgm.defs).toContain('CREATE INDEX ON "public"."docs" USING gin ("title" gin_trgm_ops)')
  })

  it('never proposes what a valid existing index already covers (prefix, same method and predicate, expressions by parse tree)', () => {
    const existing = (name: string, keys: string[], extra: Partial<ExistingIndex> = {}): ExistingIndex =>
      ({name, table: 'public.orders', method: 'btree', keys, include: [], predicate: null, valid: true, unique: false, sizeBytes: 1, ...extra})
    const sqls = ['SELECT * FROM orders WHERE customer_id = $1', 'SELECT id FROM users WHERE lower(email) = $1']
    const covered = candidatesFor(sqls, catalog({indexes: [
      existing('orders_customer_created', ['customer_id', 'created_at']),
      {...existing('users_lower_email', ['lower(email::text)']), table: 'public.users'},
    ]}))
    expect(covered.defs.filter((d) => d.includes('("customer_id")'))).toEqual([])
    // lower((email)::text) from pg_get_indexdef equals lower("email"); only the covering variant remains. It includes
    // email itself: PostgreSQL plans an index-only scan over an expression index only when the column is in it too.
    expect(covered.defs.filter((d) => d.includes('lower'))).toEqual(['CREATE INDEX ON "public"."users" USING btree ((lower("email"))) INCLUDE ("email", "id")'])
    expect(covered.covered).toMatchObject({'public.orders btree ("customer_id")': 'orders_customer_created'})
    // An invalid index (failed CREATE INDEX CONCURRENTLY), another method or a partial one covers nothing.
    for (const idx of [existing('bad', ['customer_id'], {valid: false}), existing('h', ['customer_id'], {method: 'hash'}), existing('p', ['customer_id'], {predicate: "status = 'new'"})]) {
      expect(candidatesFor(sqls.slice(0, 1), catalog({indexes: [idx]})).defs).toContain('CREATE INDEX ON "public"."orders" USING btree ("customer_id")')
    }
  })
})

describe('covering candidates and join pairs', () => {
  it('covers every column an aggregate reads, per way into the table, and never for a whole-row read', () => {
    const {defs} = candidatesFor(['SELECT store_id, sum(total) FROM orders WHERE created_at >= $1 GROUP BY store_id'])
    expect(defs).toContain('CREATE INDEX ON "public"."orders" USING btree ("created_at") INCLUDE ("store_id", "total")')
    expect(defs).toContain('CREATE INDEX ON "public"."orders" USING btree ("store_id") INCLUDE ("created_at", "total")')
    const star = candidatesFor(['SELECT * FROM orders WHERE created_at >= $1'])
    expect(star.defs.filter((d) => d.includes('INCLUDE'))).toEqual([])
  })

  it('pairs the join-key candidates of a join\'s two sides', () => {
    const {pairs} = candidatesFor(['SELECT count(*) FROM orders o JOIN users u ON u.name = o.status WHERE o.store_id = $1'])
    const sorted = pairs.map((p) => [...p].sort().join(' + '))
    expect(sorted).toContain('public.orders btree ("status") + public.users btree ("name")')
    // The side with an equality filter is also paired through its composite (filter, then join key).
    expect(sorted).toContain('public.orders btree ("store_id", "status") + public.users btree ("name")')
  })
})
