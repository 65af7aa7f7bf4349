import type {Advisor, AdvisorContext, AdvisorFinding} from '../../core/advisor.js'
import {dataOf} from '../../core/readings.js'
import {tableKey} from '../../knowledge/mysql/catalog.js'
import {mysqlPlansReading} from '../../readings/mysql.js'
import {CommandLog} from '../../core/probe.js'
import {errorMessage} from '../../core/errors.js'
import {MysqlSession, type MysqlSessionOptions} from '../../drivers/mysql.js'
import {adviseMysqlIndexes, type MysqlPlannedStatement} from './advise.js'
import {applyVerification, verifyProposal, verifyRealRefusal, type VerifyStatement} from './verify.js'

/** The verify session's statement limit: an index build on a scratch copy takes longer than a probe's read. */
export const VERIFY_STATEMENT_TIMEOUT_MS = 120_000

/**
 * --verify-real: a second session, not READ ONLY, opened only now; each proposal verified or refused (verify.ts);
 * closed whatever happens.
 */
async function verifyFindings(ctx: AdvisorContext, findings: AdvisorFinding[], live: MysqlSession): Promise<AdvisorFinding[]> {
  if (!ctx.spec) return findings.map((f) => applyVerification(f, {verified: false, why: 'not verified: --verify-real needs a live audit'}))
  let session: MysqlSession
  try {
    session = await MysqlSession.open(ctx.spec.url, {...(ctx.spec.options as MysqlSessionOptions), readWrite: true, statementTimeoutMs: VERIFY_STATEMENT_TIMEOUT_MS}, new CommandLog(ctx.spec.name))
  } catch (error) {
    const why = `not verified: the --verify-real session could not be opened (${errorMessage(error).split('\n')[0]})`
    return findings.map((f) => applyVerification(f, {verified: false, why}))
  }
  try {
    const refusals = new Map<string, string | undefined>()
    const out: AdvisorFinding[] = []
    for (const f of findings) {
      const schema = String(f.evidence.schema)
      if (!refusals.has(schema)) refusals.set(schema, await verifyRealRefusal(session, schema, ctx.options.scratch === true))
      const refused = refusals.get(schema)
      if (refused) {
        out.push(applyVerification(f, {verified: false, why: `not verified: ${refused}`}))
        continue
      }
      const statements: VerifyStatement[] = (f.evidence.statements as string[]).flatMap((id) => {
        const t = live.explainTexts.get(id)
        return t ? [{id, ...t}] : []
      })
      try {
        out.push(applyVerification(f, await verifyProposal(session, f, statements)))
      } catch (error) {
        out.push(applyVerification(f, {verified: false, why: `not verified: ${errorMessage(error).split('\n')[0]}`}))
      }
    }
    return out
  } finally {
    await session.close()
  }
}

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
    const live = ctx.live.get(ctx.target.name) as MysqlSession | undefined
    if (ctx.options.verifyReal === true && findings.size > 0) {
      if (!live) return [...findings.values()].map((f) => applyVerification(f, {verified: false, why: 'not verified: --verify-real needs a live audit (this one is from a snapshot)'}))
      return verifyFindings(ctx, [...findings.values()], live)
    }
    return [...findings.values()]
  },
}
