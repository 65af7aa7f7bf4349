import {beforeAll, describe, expect, it} from 'vitest'
import type {CatalogFacts, TableFacts} from '../../../src/knowledge/postgres/catalog.js'
import {writeTarget} from '../../../src/knowledge/postgres/statement-writes.js'
import {isBulk, statementWriteRates} from '../../../src/advisors/index-advisor/write-cost.js'
import {severityByTimeSaved, timeSaved} from '../../../src/advisors/index-advisor/severity.js'
import {ensureParser} from '../../../src/knowledge/postgres/workload.js'

const table = (schema: string, name: string, rows: number): TableFacts =>
  ({key: `${schema}.${name}`, schema, name, rows, pages: rows / 100, sizeBytes: rows * 100, columns: [], writes: 0, writeRate: 0, partitioned: false})
const catalog: CatalogFacts = {
  tables: Object.fromEntries([table('public', 'events', 1e6), table('app', 'events', 1000), table('app', 'jobs', 5e5)].map((t) => [t.key, t])),
  indexes: [], extensions: [], searchPath: ['public', 'app'], settings: {workMemBytes: 4 << 20, randomPageCost: 4, seqPageCost: 1, blockSize: 8192}, statsSeconds: 3600,
}

describe('what a statement writes', () => {
  beforeAll(ensureParser)
  it('reads the target of INSERT, UPDATE, DELETE, MERGE and COPY FROM from the parse tree', () => {
    expect(writeTarget('INSERT INTO app.jobs (id) VALUES ($1)')).toEqual({kind: 'insert', schema: 'app', name: 'jobs'})
    expect(writeTarget('WITH x AS (SELECT 1) INSERT INTO events SELECT * FROM x')).toEqual({kind: 'insert', name: 'events'})
    expect(writeTarget('UPDATE "events" SET a = $1 WHERE id = $2')).toEqual({kind: 'update', name: 'events'})
    expect(writeTarget('DELETE FROM events WHERE id = $1')).toEqual({kind: 'delete', name: 'events'})
    expect(writeTarget('MERGE INTO events e USING jobs j ON e.id = j.id WHEN MATCHED THEN DELETE')).toEqual({kind: 'merge', name: 'events'})
    expect(writeTarget('COPY events FROM STDIN')).toEqual({kind: 'copy', name: 'events'})
  })
  it('finds no write in COPY TO, a SELECT, or text that does not parse', () => {
    expect(writeTarget('COPY events TO STDOUT')).toBeUndefined()
    expect(writeTarget('SELECT * FROM events WHERE id = $1')).toBeUndefined()
    expect(writeTarget('INSERT INTO')).toBeUndefined()
  })
})

describe('one-off bulk statements', () => {
  it('are a few calls each writing a large share of the table', () => {
    expect(isBulk({calls: 1, rows: 1e6}, 1e6)).toBe(true)
    expect(isBulk({calls: 10, rows: 1e6}, 1e6)).toBe(true)
    // Eleven calls: a batch job that keeps running is a write load.
    expect(isBulk({calls: 11, rows: 1.1e6}, 1e6)).toBe(false)
    // Few calls, a small share of the table each.
    expect(isBulk({calls: 2, rows: 20_000}, 1e6)).toBe(false)
    // A small table: at least BULK_MIN_ROWS rows a call.
    expect(isBulk({calls: 1, rows: 500}, 600)).toBe(false)
    expect(isBulk({calls: 1, rows: 5000}, 0)).toBe(true)
  })

  it('are left out of the per-table rates, which follow the search_path and the period', () => {
    const rates = statementWriteRates({seconds: 100, basis: 'test', truncated: false, statements: [
      {queryid: '1', kind: 'insert', name: 'events', calls: 1, rows: 1e6},
      {queryid: '2', kind: 'insert', name: 'events', calls: 5000, rows: 5000},
      {queryid: '3', kind: 'update', schema: 'app', name: 'events', calls: 100, rows: 300},
      {queryid: '4', kind: 'delete', name: 'jobs', calls: 10, rows: 20},
    ]}, catalog)
    expect(rates.get('public.events')).toMatchObject({rowsPerSecond: 50, basis: 'statements', statements: 1, bulkLeftOut: [{queryid: '1', kind: 'insert', calls: 1, rows: 1e6}]})
    expect(rates.get('app.events')).toMatchObject({rowsPerSecond: 3, statements: 1})
    expect(rates.get('app.jobs')).toMatchObject({rowsPerSecond: 0.2})
  })
})

describe('severity by time saved', () => {
  const statements = [
    {id: 'fast', sql: '', weight: 2, meanMs: 1, cost: 100},
    {id: 'slow', sql: '', weight: 2, meanMs: 50, cost: 10_000},
  ]
  it('is calls/s x mean time x fraction saved, measured from pg_stat_statements', () => {
    const fast = timeSaved(statements, [0], [10, 100], true, true)
    expect(fast).toMatchObject({msPerSecond: 1.8, basis: 'measured', upperBound: false})
    expect(severityByTimeSaved(fast, {})).toBe('info')
    const slow = timeSaved(statements, [1], [100, 100], true, true)
    expect(slow.msPerSecond).toBeCloseTo(99, 6)
    expect(severityByTimeSaved(slow, {})).toBe('warning')
    expect(severityByTimeSaved(fast, {minSavedMsPerSecond: 2})).toBeUndefined()
  })
  it('is a warning when one statement saves enough on each call, whatever the calls per second', () => {
    // 50 ms -> 5 ms per call, called once in 1000 s: 0.045 ms/s in all, but 45 ms a user waits each time.
    const rare = timeSaved([{id: 'rare', sql: '', weight: 0.001, meanMs: 50, cost: 1000}], [0], [100], true, true)
    expect(rare.msPerSecond).toBeLessThan(1)
    expect(severityByTimeSaved(rare, {})).toBe('warning')
    expect(severityByTimeSaved(rare, {warnSavedMsPerCall: 100})).toBe('info')
  })
  it('is an upper bound without what-if plans, and an estimate from the cost for --queries statements', () => {
    expect(timeSaved(statements, [0], [undefined, undefined], false, true)).toMatchObject({msPerSecond: 2, upperBound: true})
    expect(timeSaved(statements, [1], [100, 100], true, false)).toMatchObject({basis: 'estimated'})
  })
})
