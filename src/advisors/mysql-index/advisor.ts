import type {Advisor, AdvisorContext, AdvisorFinding} from '../../core/advisor.js'
import {dataOf} from '../../core/readings.js'
import {tableKey} from '../../knowledge/mysql/catalog.js'
import {mysqlPlansReading} from '../../readings/mysql.js'
import {adviseMysqlIndexes, type MysqlPlannedStatement} from './advise.js'

/**
 * The MySQL/MariaDB index advisor: the statements mysql.plans explained (costly digests, or --queries), their
 * masked plans and the catalog of their tables, through adviseMysqlIndexes (advise.ts). Statements are advised per
 * database, as their unqualified table names are in theirs; the same index proposed from two databases' statements
 * (qualified names) is one finding.
 */
export const mysqlIndexAdvisor: Advisor = {
  id: 'mysql-index',
  scope: 'mysql',
  description: 'Missing indexes of MySQL/MariaDB statements from their EXPLAIN plans (unverified: no hypothetical indexes)',
  async advise(ctx: AdvisorContext): Promise<AdvisorFinding[]> {
    if (!ctx.target) return []
    const data = dataOf(ctx.readings, mysqlPlansReading, ctx.target.name)
    if (!data) return []
    const flavour = ctx.target.facts?.flavour === 'mysql' ? 'mysql' : 'mariadb'
    const fallback = typeof ctx.target.facts?.database === 'string' ? ctx.target.facts.database : ''
    const columns = new Map(data.catalog.columns.map((c) => [tableKey(c.schema, c.table), c.columns]))
    const bySchema = new Map<string, MysqlPlannedStatement[]>()
    for (const s of data.statements) {
      // Only what was explained or could not be: a statement EXPLAIN does not take gets no index either.
      if (s.plan === undefined && !s.error) continue
      const schema = s.schema ?? fallback
      const list = bySchema.get(schema) ?? []
      list.push({id: s.id, sql: s.sql, ...(s.plan !== undefined ? {explain: s.plan} : {}), ...(s.calls !== undefined ? {calls: s.calls} : {}),
        ...(s.totalSeconds !== undefined ? {totalSeconds: s.totalSeconds} : {})})
      bySchema.set(schema, list)
    }
    const findings = new Map<string, AdvisorFinding>()
    for (const [defaultSchema, statements] of bySchema) {
      const {findings: found, notes} = adviseMysqlIndexes({target: ctx.target.name, flavour, defaultSchema, statements, catalog: data.catalog, columns})
      for (const [id, list] of Object.entries(notes)) ctx.log(`${ctx.target.name}: mysql-index: statement ${id}: ${list.join('; ')}`)
      for (const f of found) {
        const same = findings.get(f.subject)
        if (!same) findings.set(f.subject, f)
        else (same.evidence.statements as string[]).push(...(f.evidence.statements as string[]))
      }
    }
    return [...findings.values()]
  },
}
