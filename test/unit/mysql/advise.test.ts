import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {adviseMysqlIndexes, type MysqlPlannedStatement} from '../../../src/advisors/mysql-index/advise.js'
import {NOT_VERIFIED} from '../../../src/advisors/mysql-index/candidates.js'
import {indexesFromStatistics, tablesFromRows, type StatisticsRow, type TableRow} from '../../../src/knowledge/mysql/catalog.js'
import {acceptAdvisorFindings} from '../../../src/core/engine.js'
import {compileRule, loadRules} from '../../../src/core/rules.js'

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`fixtures/mariadb-10.11/${name}.json`, import.meta.url), 'utf8')) as T
const DB = 'chokepoint_fixture_scratch'
const catalog = {tables: tablesFromRows(fixture<{rows: TableRow[]}>('tables').rows), indexes: indexesFromStatistics(fixture<{rows: StatisticsRow[]}>('statistics').rows)}
const recorded = (id: string, name: string): MysqlPlannedStatement => {
  const f = fixture<{statement: string; explain: unknown}>(`explain-${name}`)
  return {id, sql: f.statement, explain: f.explain}
}
const advise = (statements: MysqlPlannedStatement[]) => adviseMysqlIndexes({target: 'maria', flavour: 'mariadb', defaultSchema: DB, statements, catalog})

describe('adviseMysqlIndexes on recorded MariaDB plans', () => {
  it('a full scan and a grouping through a temporary table share one candidate; a ref lookup gets none', () => {
    const {findings} = advise([recorded('d1', 'full-scan'), recorded('d2', 'group-temporary'), recorded('d3', 'ref')])
    expect(findings.map((f) => [f.rule, f.subject, f.evidence.statements, f.severity])).toEqual([
      ['database/missing-index', `\`${DB}\`.\`orders\` total`, ['d1', 'd2'], 'info'],
    ])
    expect(findings[0].remedies[0]).toMatchObject({kind: 'index', verified: false, notVerified: NOT_VERIFIED,
      sql: `CREATE INDEX \`idx_orders_total\` ON \`${DB}\`.\`orders\` (\`total\`) ALGORITHM=INPLACE LOCK=NONE;`})
    expect(findings[0].message).toMatch(/^likely missing index on .*not verified: neither MySQL nor MariaDB has hypothetical indexes/)
    expect(findings[0].evidence.reasons).toEqual(['statement d1 reads all 20260 rows of the table (access type ALL)', 'statement d2 reads all 20260 rows of the table (access type ALL)'])
  })

  it('a covering index where it turns a full scan into an index-only read', () => {
    const plan = fixture<{explain: unknown}>('explain-full-scan').explain
    const {findings} = advise([{id: 'd1', sql: 'SELECT created_at FROM orders WHERE total > 100', explain: plan}])
    expect(findings.map((f) => f.subject)).toEqual([`\`${DB}\`.\`orders\` total, created_at`])
    expect(findings[0].evidence.kind).toBe('covering')
  })

  it('a full scan of 100,000 rows or more is a warning; the finding passes the engine under database/missing-index', () => {
    const plan = {query_block: {select_id: 1, table: {table_name: 'orders', access_type: 'ALL', rows: 250_000, filtered: 100, attached_condition: 'orders.total > 100'}}}
    const {findings} = advise([{id: 'd1', sql: 'SELECT * FROM orders WHERE total > 100', explain: plan}])
    expect(findings[0].severity).toBe('warning')
    const rules = loadRules().map((r) => compileRule(r, {}))
    const [accepted] = acceptAdvisorFindings(findings, {rulesFor: () => rules, applierFor: () => null} as never)
    expect(accepted).toMatchObject({rule: 'database/missing-index', severity: 'warning', area: 'database'})
    expect(accepted.remedies[0].id).toMatch(/^index-[0-9a-f]{12}$/)
  })

  it('no plan: proposed from the statement alone; a small table read in full: nothing; unparsable: a note', () => {
    const noPlan = advise([{id: 'd1', sql: 'SELECT * FROM logs WHERE msg = ?'}])
    expect(noPlan.findings.map((f) => [f.subject, f.evidence.reasons])).toEqual([[`\`${DB}\`.\`logs\` msg`, ['statement d1 no plan taken: proposed from the statement alone']]])
    const small = {query_block: {select_id: 1, table: {table_name: 'logs', access_type: 'ALL', rows: 500, filtered: 10}}}
    expect(advise([{id: 'd2', sql: 'SELECT * FROM logs WHERE msg = ?', explain: small}]).findings).toEqual([])
    const bad = advise([{id: 'd9', sql: 'SELEKT 1', explain: {query_block: {}}}])
    expect(bad.findings).toEqual([])
    expect(bad.notes.d9[0]).toMatch(/^not parsable as MariaDB SQL/)
  })
})
