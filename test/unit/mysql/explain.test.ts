import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {explainFlavour, parseExplain} from '../../../src/knowledge/mysql/explain.js'

const load = (dir: string, name: string) => JSON.parse(readFileSync(new URL(`fixtures/${dir}/explain-${name}.json`, import.meta.url), 'utf8')) as {statement: string; explain: unknown}
const maria = (name: string) => parseExplain(load('mariadb-10.11', name).explain)
const mysql = (name: string) => parseExplain(load('mysql-8.0-from-docs', name).explain)
const brief = (s: ReturnType<typeof parseExplain>) => s.accesses.map((a) => `${a.table} ${a.accessType} ${a.key ?? '-'} ${a.rowsExamined}`)

describe('parseExplain: MariaDB 10.11, recorded', () => {
  it('tells the flavour from the fields', () => {
    expect(explainFlavour(load('mariadb-10.11', 'ref').explain)).toBe('mariadb')
    expect(explainFlavour(load('mysql-8.0-from-docs', 'join-group-order').explain)).toBe('mysql')
  })

  it('ALL is a full scan, with its condition and rows examined', () => {
    const s = maria('full-scan')
    expect(brief(s)).toEqual(['orders ALL - 20260'])
    expect(s.fullScans).toHaveLength(1)
    expect(s.fullScans[0].attachedCondition).toBe('orders.total > 100')
    expect(s.usingFilesort || s.usingTemporary).toBe(false)
  })

  it('ref, range, const and index: key, used key parts and possible keys', () => {
    expect(brief(maria('ref'))).toEqual(['orders ref idx_customer 10'])
    expect(maria('ref').accesses[0]).toMatchObject({possibleKeys: ['idx_customer', 'idx_customer_id'], usedKeyParts: ['customer_id'], fullScan: false})
    expect(maria('range').accesses[0]).toMatchObject({accessType: 'range', indexCondition: 'orders.customer_id between 5 and 10'})
    expect(brief(maria('const'))).toEqual(['orders const PRIMARY 1'])
    expect(maria('index-scan').accesses[0]).toMatchObject({accessType: 'index', fullIndexScan: true, fullScan: false, usingIndex: true})
  })

  it('joins: each table of the nested loop, eq_ref on the inner side', () => {
    expect(brief(maria('join-eq-ref-range'))).toEqual(['o range idx_status_created 30', 'c eq_ref PRIMARY 1'])
    expect(brief(maria('join-eq-ref'))).toEqual(['c index uq_email 2000', 'o ref idx_customer 5'])
    expect(brief(maria('subquery'))).toEqual(['customers ALL - 2000', 'orders ref idx_customer 5'])
  })

  it('filesort and temporary tables wrap what they read', () => {
    const sorted = maria('filesort')
    expect(sorted.usingFilesort).toBe(true)
    expect(sorted.usingTemporary).toBe(false)
    expect(sorted.accesses[0].filesort).toBe(true)
    const grouped = maria('group-temporary')
    expect(grouped).toMatchObject({usingFilesort: true, usingTemporary: true})
    expect(grouped.fullScans.map((a) => a.table)).toEqual(['orders'])
  })

  it('unions and derived tables: every query block is read; intermediates are no full scan of a table', () => {
    expect(brief(maria('union'))).toEqual(['orders ALL - 20260', 'customers ALL - 2000'])
    const derived = maria('derived')
    expect(derived.accesses.map((a) => [a.table, a.intermediate])).toEqual([['<derived2>', true], ['orders', false]])
    expect(derived.fullScans).toEqual([])
  })

  it('no table read: the message', () => {
    expect(maria('no-table')).toMatchObject({accesses: [], messages: ['No tables used']})
    expect(maria('impossible-where').messages).toEqual(['Impossible WHERE'])
  })
})

describe('parseExplain: MySQL 8.0 shapes from the documentation (not recorded)', () => {
  it('rows_examined_per_scan, string filtered, query cost; filesort from ordering_operation, temporary from grouping_operation', () => {
    const s = mysql('join-group-order')
    expect(brief(s)).toEqual(['o ALL - 20260', 'c eq_ref PRIMARY 1'])
    expect(s).toMatchObject({flavour: 'mysql', cost: 9025.4, usingFilesort: true, usingTemporary: true})
    expect(s.accesses[0].filtered).toBe(33.33)
    expect(s.fullScans.map((a) => a.attachedCondition)).toEqual(['((`shop`.`o`.`total` > 1.00) and (`shop`.`o`.`customer_id` is not null))'])
  })

  it('using_filesort false: the index gives the order', () => {
    const s = mysql('range-ordered-by-index')
    expect(s.usingFilesort).toBe(false)
    expect(s.accesses[0]).toMatchObject({accessType: 'range', key: 'idx_status_created', usingIndex: true, filesort: false})
  })

  it('a derived table under its alias is an intermediate; the subquery\'s own sort and scan are its own', () => {
    const s = mysql('derived')
    // Materializing the derived table is no "Using temporary" of the subquery's own sort.
    expect(s.accesses.map((a) => [a.table, a.intermediate, a.filesort, a.temporary, a.selectId])).toEqual([
      ['co', true, true, true, 1], ['country', false, true, false, 2], ['ci', false, true, true, 1],
    ])
    expect(s.fullScans.map((a) => a.table)).toEqual(['country'])
  })

  it('a message on the query block', () => {
    expect(mysql('no-table')).toMatchObject({accesses: [], messages: ['No tables used']})
  })
})

describe('parseExplain: bad input', () => {
  it('one line for what is not a plan', () => {
    expect(() => parseExplain('{nope')).toThrow('EXPLAIN FORMAT=JSON output is not JSON')
    expect(() => parseExplain({rows: 1})).toThrow('EXPLAIN FORMAT=JSON output has no query_block')
  })

  it('takes the text the server returns', () => {
    expect(parseExplain(JSON.stringify(load('mariadb-10.11', 'ref').explain)).accesses).toHaveLength(1)
  })
})
