import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {explainPlan, maskPlan} from '../../../src/knowledge/mysql/explainable.js'
import {parseExplain} from '../../../src/knowledge/mysql/explain.js'
import {historySource, hasQuerySampleText, samplesByDigest} from '../../../src/knowledge/mysql/sample-texts.js'

const fixture = (path: string) => JSON.parse(readFileSync(new URL(`fixtures/${path}`, import.meta.url), 'utf8')) as {statement: string; explain: unknown}

describe('explainPlan: what is handed to EXPLAIN', () => {
  it('takes a SELECT as it is', () => {
    expect(explainPlan("SELECT * FROM t WHERE tok = 'x'", 'mariadb')).toEqual({text: "SELECT * FROM t WHERE tok = 'x'", readPart: false})
  })
  it('explains a write by its read part (the READ ONLY session may not EXPLAIN a write)', () => {
    expect(explainPlan("UPDATE t SET k = 1 WHERE tok = 'x' LIMIT 3", 'mariadb')).toEqual({text: "SELECT * FROM `t` WHERE `tok` = 'x'", readPart: true})
    expect(explainPlan('DELETE FROM d.t WHERE k = 2', 'mysql')).toEqual({text: 'SELECT * FROM `d`.`t` WHERE `k` = 2', readPart: true})
    expect(explainPlan('UPDATE t a JOIN u b ON a.x = b.y SET a.k = 1 WHERE b.tok = 5', 'mariadb')).toEqual({
      text: 'SELECT * FROM `t` AS `a` INNER JOIN `u` AS `b` ON `a`.`x` = `b`.`y` WHERE `b`.`tok` = 5', readPart: true})
    expect(explainPlan('INSERT INTO a (x) SELECT y FROM b WHERE z = 1', 'mariadb')).toEqual({text: 'SELECT `y` FROM `b` WHERE `z` = 1', readPart: true})
  })
  it('refuses everything else, with why', () => {
    for (const [sql, why] of [
      ['INSERT INTO a VALUES (1)', /^INSERT … VALUES is not explained/], ['CALL p()', /^CALL is not explained/], ['DO SLEEP(1)', /not parsable/],
      ['SELECT 1; SELECT 2', /2 statements in one text/], ["SELECT * FROM t INTO OUTFILE '/tmp/x'", /INTO writes a file/],
      ['DROP TABLE t', /^DROP is not explained/], ['SELECT * FROM t WHERE a = ', /not parsable/],
    ] as const) expect(explainPlan(sql, 'mariadb'), sql).toEqual({refused: expect.stringMatching(why)})
  })
})

describe('maskPlan', () => {
  it('masks the literals of condition fields and keeps what the plan reader needs (MariaDB recorded, MySQL from the docs)', () => {
    for (const path of ['mariadb-10.11/explain-full-scan.json', 'mysql-8.0-from-docs/explain-range-ordered-by-index.json', 'mariadb-10.11/explain-join-eq-ref-range.json']) {
      const {explain} = fixture(path)
      const masked = maskPlan(explain)
      expect(JSON.stringify(masked), path).not.toMatch(/'paid'|2026-01-10|> 100\b/)
      // The summary of the masked plan is the plan's, conditions aside.
      const strip = (s: ReturnType<typeof parseExplain>) => ({...s, accesses: s.accesses.map((a) => ({...a, attachedCondition: null, indexCondition: null})), fullScans: s.fullScans.length})
      expect(strip(parseExplain(masked)), path).toEqual(strip(parseExplain(explain)))
    }
    expect(maskPlan({table: {attached_condition: "t.tok = 'sk_live_x' and t.n = 42", filtered: '10.00', cost_info: {query_cost: '1.20'}, ref: ['const']}}))
      .toEqual({table: {attached_condition: 't.tok = ? and t.n = ?', filtered: '10.00', cost_info: {query_cost: '1.20'}, ref: ['const']}})
  })
})

describe('sample texts (recorded rows)', () => {
  it('QUERY_SAMPLE_TEXT from MySQL 8.0.3 only', () => {
    expect([hasQuerySampleText('mysql', 80003), hasQuerySampleText('mysql', 80002), hasQuerySampleText('mariadb', 101119)]).toEqual([true, false, false])
  })
  it('prefers the long history, then the per-thread one, else none', () => {
    expect(historySource([{NAME: 'events_statements_history', ENABLED: 'YES'}, {NAME: 'events_statements_history_long', ENABLED: 'YES'}])).toBe('events_statements_history_long')
    expect(historySource([{name: 'events_statements_history', enabled: 'YES'}, {name: 'events_statements_history_long', enabled: 'NO'}])).toBe('events_statements_history')
    expect(historySource([{name: 'events_statements_history', enabled: 'NO'}])).toBeUndefined()
  })
  it('one text per digest and schema, empty ones left out', () => {
    const key = (s: string | null, d: string) => `${s}/${d}`
    expect([...samplesByDigest([{d: 'a', s: 'shop', t: ' SELECT 1 '}, {d: 'a', s: 'shop', t: 'SELECT 2'}, {d: 'b', s: null, t: ''}, {d: 'c', s: 'x', t: null}], key)])
      .toEqual([['shop/a', 'SELECT 1']])
  })
})
