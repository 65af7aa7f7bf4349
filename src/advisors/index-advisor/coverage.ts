import type {AdvisorContext} from '../../core/advisor.js'
import {dataOf, readingsOf} from '../../core/readings.js'
import {plansReading, statementsReading} from '../../readings/postgres.js'

/** How many pg_stat_statements entries the plans probe could not take because their text is hidden from this role. */
export function hiddenWorkload(ctx: Pick<AdvisorContext, 'readings'>): number {
  const plans = dataOf(ctx.readings, plansReading)
  if (!plans || plans.source !== 'pg_stat_statements') return 0
  return readingsOf(ctx.readings, statementsReading)[0]?.data.hiddenStatements ?? 0
}

/**
 * The index advisor plans the statements pg_stat_statements shows this role. Without pg_read_all_stats other users'
 * statements have no text: the advisor then works from the rest, possibly from none ("no index recommended for
 * 0 statement(s)" on a busy database). That is said under "Not read", with the GRANT the statements probe names.
 */
export function reportHiddenWorkload(ctx: AdvisorContext): void {
  const hidden = hiddenWorkload(ctx)
  if (!(hidden > 0) || !ctx.notRead) return
  const plans = dataOf(ctx.readings, plansReading)!
  const statements = readingsOf(ctx.readings, statementsReading)[0]
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
