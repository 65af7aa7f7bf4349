import type {AdvisorContext} from '../../core/advisor.js'
import {dataOf, readingsOf} from '../../core/readings.js'
import {plansReading, statementsReading} from '../../readings/postgres.js'

/**
 * The index advisor plans the statements pg_stat_statements shows this role. Without pg_read_all_stats other users'
 * statements have no text: the advisor then works from the rest, possibly from none ("no index recommended for
 * 0 statement(s)" on a busy database). That is said under "Not read", with the GRANT the statements probe names.
 */
export function reportHiddenWorkload(ctx: AdvisorContext): void {
  const plans = dataOf(ctx.readings, plansReading)
  if (!plans || plans.source !== 'pg_stat_statements' || !ctx.notRead) return
  const statements = readingsOf(ctx.readings, statementsReading)[0]
  const hidden = statements?.data.hiddenStatements ?? 0
  if (!(hidden > 0)) return
  const planned = plans.statements.filter((s) => s.plan).length
  const fix = statements.reading.notRead?.find((g) => g.what === 'statement texts')?.fix
  ctx.notRead({
    what: 'statements to advise on',
    missing: hidden,
    of: hidden + planned,
    reason: `the index advisor planned ${planned} statement(s); ${hidden} more in pg_stat_statements have hidden texts (other users' statements)`,
    ...(fix ? {fix} : {}),
  })
}
