/**
 * The N+1 advisor's judgement on hand-built readings (the integration test drives real client loops): the child
 * must filter on a declared foreign key, the parent nearest one child call per row wins, the rule's heuristic is
 * the user's to override, and the batched rewrite is spliced into the statement's text only where the result keeps its meaning.
 */
import {beforeAll, describe, expect, it} from 'vitest'
import {batchedLookup, nPlusOneAdvisor, RULE_ID, statementsByQueryid} from '../../../src/advisors/n-plus-one.js'
import type {AdvisorContext} from '../../../src/core/advisor.js'
import {SNAPSHOT_SCHEMA_VERSION, type Reading, type Snapshot} from '../../../src/core/types.js'
import type {CatalogFacts, TableFacts} from '../../../src/knowledge/postgres/catalog.js'
import {ensureParser} from '../../../src/knowledge/postgres/workload.js'
import {statementSeconds, type StatementRow, type StatementsData} from '../../../src/readings/postgres.js'
import type {ChokepointConfig} from '../../../src/core/config.js'
import {evaluation} from '../../helpers/context.js'

const WINDOW = 10

function row(queryid: string, query: string, calls: number, rows: number, meanMs = 0.02): StatementRow {
  return {queryid, query, calls, rows, totalMs: calls * meanMs, meanMs, stddevMs: 0, maxMs: meanMs, sharedBlksHit: 0, sharedBlksRead: 0,
    sharedBlksDirtied: 0, sharedBlksWritten: 0, tempBlksRead: 0, tempBlksWritten: 0, share: 0, toplevel: true, database: 'shop', user: 'app'}
}

function table(name: string, columns: string[], foreignKeys: TableFacts['foreignKeys'] = []): TableFacts {
  return {key: `public.${name}`, schema: 'public', name, rows: 1000, pages: 10, sizeBytes: 81920, writes: 0, writeRate: 0, partitioned: false,
    columns: columns.map((c) => ({name: c, type: 'bigint', nDistinct: null, nullFrac: null, avgWidth: 8})), foreignKeys}
}

const CATALOG: CatalogFacts = {
  tables: {
    'public.authors': table('authors', ['id', 'name']),
    'public.books': table('books', ['id', 'author_id', 'editor_id', 'title'], [
      {name: 'books_author_id_fkey', columns: ['author_id'], references: 'public.authors', referencedSchema: 'public', referencedTable: 'authors', referencedColumns: ['id']},
    ]),
  },
  indexes: [], extensions: [], searchPath: ['public'], statsSeconds: 3600,
  settings: {workMemBytes: 4 << 20, randomPageCost: 4, seqPageCost: 1, blockSize: 8192},
}

function context(statements: StatementRow[], frequent: StatementRow[] = [], config: ChokepointConfig = {}): AdvisorContext {
  const totalMs = [...statements, ...frequent].reduce((s, r) => s + r.totalMs, 0)
  const shared = (rows: StatementRow[]) => rows.map((s) => ({...s, share: s.totalMs / totalMs}))
  const data: StatementsData = {database: 'shop', windowSeconds: WINDOW, since: null, statements: shared(statements), frequent: shared(frequent),
    statementsActive: statements.length + frequent.length, totalMs, hiddenStatements: 0, deallocations: null}
  const reading = (probe: string, d: unknown): Reading => ({target: 'pg', probe, takenAt: new Date().toISOString(), durationMs: 0, status: 'ok', windowSeconds: WINDOW, data: d, metrics: []})
  const readings = [reading('postgres.statements', data), reading('postgres.plans', {source: 'pg_stat_statements', serverVersionNum: 150000, statements: [], catalog: CATALOG, explainMs: 0})]
  const snapshot: Snapshot = {schemaVersion: SNAPSHOT_SCHEMA_VERSION, tool: {name: 'chokepoint', version: 'test'}, capturedAt: new Date().toISOString(),
    windowSeconds: WINDOW, targets: [{name: 'pg', kind: 'postgres', url: 'postgres://x/shop', status: 'ok'}], readings}
  return {snapshot, target: snapshot.targets[0], readings, live: new Map(), rules: evaluation(config).rulesFor, options: {}, log: () => {}}
}

const PARENT = row('1', 'SELECT id FROM authors LIMIT $1', 200, 10_000)

describe('n-plus-one advisor', () => {
  beforeAll(() => ensureParser())

  it('pairs a foreign-key lookup with the parent whose rows its calls follow most nearly', async () => {
    const child = row('2', 'SELECT * FROM books WHERE author_id = $1', 9_800, 9_800)
    // Inside the band too (ratio 1.4), and listed first: the nearer parent still wins.
    const listing = row('3', 'SELECT id, name FROM authors ORDER BY id LIMIT $1', 700, 7_000)
    const [finding, ...rest] = await nPlusOneAdvisor.advise(context([listing, child, PARENT]))
    expect(rest).toEqual([])
    expect(finding).toMatchObject({rule: RULE_ID, subject: 'queryid 2', value: 980})
    expect(finding.evidence).toMatchObject({ratio: 0.98, parent: {queryid: '1'}, roundTripsSavedPerSecond: 960, childMsPerSecond: 19.6})
  })

  it("counts a statement once, whoever runs it: one user's half of the loop is still an N+1 of the whole", async () => {
    // Two roles run the same loop: each entry alone has half the calls, and neither may give a finding of its own.
    const mine = {...row('2', 'SELECT * FROM books WHERE author_id = $1', 4_900, 4_900), user: 'app'}
    const theirs = {...row('2', 'SELECT * FROM books WHERE author_id = $1', 4_900, 4_900, 0.04), user: 'worker'}
    expect(statementsByQueryid(context([mine], [theirs, PARENT]).snapshot.readings[0].data as StatementsData)
      .find((s) => s.queryid === '2')).toMatchObject({calls: 9_800, rows: 9_800, totalMs: 294, meanMs: 0.03})
    const findings = await nPlusOneAdvisor.advise(context([mine], [theirs, PARENT]))
    expect(findings.map((f) => [f.subject, f.evidence.ratio])).toEqual([['queryid 2', 0.98]])
  })

  it("follows the user's override of the rule's heuristic: a has-many loop (3 rows per call) is found once maxChildRowsPerCall allows it", async () => {
    const hasMany = row('7', 'SELECT * FROM books WHERE author_id = $1', 9_800, 29_400)
    expect(await nPlusOneAdvisor.advise(context([PARENT, hasMany]))).toEqual([])
    const config: ChokepointConfig = {rules: {[RULE_ID]: {heuristic: {maxChildRowsPerCall: 5}}}}
    const findings = await nPlusOneAdvisor.advise(context([PARENT, hasMany], [], config))
    expect(findings.map((f) => [f.subject, f.evidence.childRowsPerCall])).toEqual([['queryid 7', 3]])
    // The rule file's other numbers still hold: a lookup slower than maxChildMeanMs stays out.
    expect(await nPlusOneAdvisor.advise(context([PARENT, {...hasMany, meanMs: 9, totalMs: 9 * 9_800}], [], config))).toEqual([])
  })

  it('takes no lookup on a column without a foreign key constraint for a child, however well its calls match', async () => {
    const byEditor = row('4', 'SELECT * FROM books WHERE editor_id = $1', 10_000, 10_000)
    expect(await nPlusOneAdvisor.advise(context([PARENT, byEditor]))).toEqual([])
  })

  it('takes no batched lookup, join or listing for a child', async () => {
    const batched = row('5', 'SELECT * FROM books WHERE author_id = ANY($1)', 10_000, 10_000)
    const joined = row('6', 'SELECT b.* FROM books b JOIN authors a ON a.id = b.author_id WHERE b.author_id = $1', 10_000, 10_000)
    expect(await nPlusOneAdvisor.advise(context([PARENT, batched, joined]))).toEqual([])
  })

  it('counts rates over the window, else since the pg_stat_statements reset', () => {
    const data = {windowSeconds: 0, since: '2026-01-01T00:00:00Z'} as StatementsData
    expect(statementSeconds(data, '2026-01-01T01:00:00Z', CATALOG.statsSeconds)).toBe(3600)
    expect(statementSeconds({...data, windowSeconds: 5}, '2026-01-01T01:00:00Z', CATALOG.statsSeconds)).toBe(5)
    expect(statementSeconds({...data, since: null}, '2026-01-01T01:00:00Z', CATALOG.statsSeconds)).toBe(CATALOG.statsSeconds)
  })
})

describe('batchedLookup', () => {
  beforeAll(() => ensureParser())

  it('turns the foreign-key comparison into = ANY($n), the rest of the text as it was', () => {
    expect(batchedLookup('SELECT * FROM books WHERE author_id = $1', 'author_id')).toBe('SELECT * FROM books WHERE author_id = ANY($1)')
    expect(batchedLookup('SELECT title FROM books b WHERE title <> $1 AND b.author_id = $2 ORDER BY id', 'author_id'))
      .toBe('SELECT title FROM books b WHERE title <> $1 AND b.author_id = ANY($2) ORDER BY id')
    // Byte offsets: a non-ASCII name before the parameter must not shift the splice.
    expect(batchedLookup('SELECT "título" FROM books WHERE author_id = $1', 'author_id')).toBe('SELECT "título" FROM books WHERE author_id = ANY($1)')
  })

  it('gives no rewrite where the batched text would not mean the same', () => {
    expect(batchedLookup('SELECT * FROM books WHERE author_id = $1 LIMIT 1', 'author_id')).toBeUndefined()
    expect(batchedLookup('SELECT * FROM books WHERE author_id = $1 OR title = $2', 'author_id')).toBeUndefined()
    expect(batchedLookup('SELECT * FROM books WHERE author_id = $1::bigint', 'author_id')).toBeUndefined()
    expect(batchedLookup('SELECT * FROM books WHERE editor_id = $1', 'author_id')).toBeUndefined()
    expect(batchedLookup('SELECT * FROM books WHERE $1 = author_id', 'author_id')).toBeUndefined()
  })
})
