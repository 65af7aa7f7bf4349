import {checkConcurrency, loadConfigFile, resolveTargets, type ChokepointConfig} from '../core/config.js'
import {defaultConcurrency} from '../core/limiter.js'
import {selectTargets} from '../core/selection.js'
import {UsageError} from '../core/errors.js'
import type {FailOn, TargetSpec} from '../core/types.js'
import {parseDurationSeconds, parseQuantity} from '../core/units.js'
import type {Progress} from '../core/progress.js'
import type {CliContext} from './context.js'
import {ProgressRenderer} from './progress.js'

export const DEFAULT_WINDOW_SECONDS = 5

export interface CommonFlags {
  /** Target URLs per kind flag (pg, redis, amqp ...), as the kinds' definitions name them. */
  [kindFlag: string]: unknown
  config?: string
  /** --target selectors: names, globs, group:NAME. */
  target?: string[]
  concurrency?: string
  window?: string
  'fail-on'?: string
  format?: string | string[]
  json?: boolean
  color?: boolean
  queries?: string
  query?: string[]
  'index-budget'?: string
  'max-indexes'?: number
  'min-improvement'?: string
  'verify-real'?: boolean
  'shard-plan'?: number
}

export interface ResolvedRun {
  config: ChokepointConfig
  configFile?: string
  targets: TargetSpec[]
  windowSeconds: number
  failOn: FailOn
  /** Targets worked on at once: --concurrency, the config's concurrency, or defaultConcurrency(). */
  concurrency: number
}

/** Config file, then flags over it; targets from both, with environment fallbacks. */
export async function resolveRun(flags: CommonFlags, {needTargets}: {needTargets: boolean}, ctx: CliContext): Promise<ResolvedRun> {
  const {config, file} = loadConfigFile(ctx.registry, flags.config)
  const windowText = flags.window ?? (config.window === undefined ? undefined : String(config.window))
  const windowSeconds = windowText === undefined ? DEFAULT_WINDOW_SECONDS : parseDurationSeconds(windowText)
  if (windowSeconds === null) throw new UsageError(`--window: expected a duration like 10s, 1m or 0, got "${windowText}"`)
  if (windowSeconds > 3600) throw new UsageError('--window: at most 1h (a probe holds its connection for the whole window)')
  const failOn = (flags['fail-on'] ?? config.failOn ?? 'critical') as FailOn
  const kindFlags = ctx.registry.kinds().flatMap((k) => (k.flag ? [k.flag] : []))
  const urls = Object.fromEntries(kindFlags.map((flag) => [flag, flags[flag] as string[] | undefined]))
  // Which kinds are audited (after --target) decides whose parser reads --queries (queriesKind).
  const before = resolveTargets(config, urls, ctx.registry, ctx.secrets)
  const kinds = new Set((needTargets ? selectTargets(before, flags.target ?? []) : before).map((t) => t.kind))
  const withAdvisor = applyShardPlanFlag(await applyAdvisorFlags(config, flags, queriesKind(kinds, flags)), flags)
  const all = resolveTargets(withAdvisor, urls, ctx.registry, ctx.secrets)
  const targets = needTargets ? selectTargets(all, flags.target ?? []) : all
  const concurrency = flags.concurrency === undefined ? config.concurrency ?? defaultConcurrency() : checkConcurrency(flags.concurrency, '--concurrency')
  if (needTargets && targets.length === 0) {
    const [first, ...others] = kindFlags
    throw new UsageError(`no targets: pass --${first} URL${others.length ? ` (or ${others.map((f) => `--${f}`).join(', ')})` : ''}, set DATABASE_URL, or list targets in chokepoint.config.yaml`)
  }
  return {config: withAdvisor, configFile: file, targets, windowSeconds, failOn, concurrency}
}

/**
 * The kind whose targets --queries / --query are for: mysql when MySQL/MariaDB targets are audited and no PostgreSQL
 * one is, else postgres (as before there were mysql targets). With both kinds the statements are PostgreSQL's, and a
 * line on stderr says so: the mysql targets take theirs from the config (options.mysql.queries).
 */
export function queriesKind(kinds: ReadonlySet<string>, flags: Pick<CommonFlags, 'queries' | 'query'>): 'postgres' | 'mysql' {
  const kind = kinds.has('mysql') && !kinds.has('postgres') ? 'mysql' : 'postgres'
  if ((flags.queries || flags.query?.length) && kinds.has('mysql') && kinds.has('postgres')) {
    process.stderr.write(`--queries/--query apply to the PostgreSQL targets; for the MySQL/MariaDB targets list the statements under options.mysql.queries in the config file\n`)
  }
  return kind
}

/** MySQL/MariaDB statements for the mysql targets' plans probe (target option queries), split and parsed in that dialect. */
async function applyMysqlQueryFlags(config: ChokepointConfig, flags: CommonFlags): Promise<ChokepointConfig> {
  const queries: Array<{sql: string; weight?: number}> = []
  if (flags.queries) {
    const {parseMysqlQueriesFile} = await import('../knowledge/mysql/workload.js')
    queries.push(...await parseMysqlQueriesFile(flags.queries))
    if (queries.length === 0) throw new UsageError(`--queries ${flags.queries}: the file holds no SQL statement`)
  }
  if (flags.query?.length) {
    const {parseMysqlQueriesText} = await import('../knowledge/mysql/workload.js')
    for (const sql of flags.query) {
      const parsed = parseMysqlQueriesText(sql, '--query')
      if (parsed.length !== 1) throw new UsageError(`--query: give one statement per --query (found ${parsed.length})`)
      queries.push({sql: parsed[0].sql})
    }
  }
  return queries.length === 0 ? config : {...config, options: {...config.options, mysql: {...config.options?.mysql, queries}}}
}

/** The index advisor's flags become postgres target options, so config files can set them too. */
async function applyAdvisorFlags(config: ChokepointConfig, flags: CommonFlags, queriesFor: 'postgres' | 'mysql' = 'postgres'): Promise<ChokepointConfig> {
  if (queriesFor === 'mysql') {
    config = await applyMysqlQueryFlags(config, flags)
    flags = {...flags, queries: undefined, query: undefined}
  }
  const advisor: Record<string, unknown> = {...(config.options?.postgres?.indexAdvisor as Record<string, unknown> | undefined)}
  const queries: Array<{sql: string; weight?: number}> = []
  if (flags.queries) {
    // The server's own parser splits the file; loaded only when the flag is used.
    const {parseQueriesFile} = await import('../knowledge/postgres/workload.js')
    queries.push(...await parseQueriesFile(flags.queries))
    if (queries.length === 0) throw new UsageError(`--queries ${flags.queries}: the file holds no SQL statement`)
  }
  for (const sql of flags.query ?? []) queries.push({sql})
  if (queries.length > 0) advisor.queries = queries
  if (flags['index-budget'] !== undefined) {
    const q = parseQuantity(flags['index-budget'])
    // A negative budget (-5MB) was taken as it was, and 0 or less leaves room for no index at all.
    if (!q || (q.unit && q.unit !== 'bytes') || !Number.isFinite(q.value) || q.value < 1 || q.value > Number.MAX_SAFE_INTEGER) {
      throw new UsageError(`--index-budget: expected a positive size like 500MB, got "${flags['index-budget']}"`)
    }
    advisor.indexBudgetBytes = Math.round(q.value)
  }
  if (flags['max-indexes'] !== undefined) advisor.maxIndexes = flags['max-indexes']
  if (flags['min-improvement'] !== undefined) {
    const q = parseQuantity(flags['min-improvement'])
    const ratio = q ? (q.unit === 'ratio' ? q.value : q.value > 1 ? q.value / 100 : q.value) : null
    if (ratio === null || ratio < 0 || ratio >= 1) throw new UsageError(`--min-improvement: expected a percentage like 10%, got "${flags['min-improvement']}"`)
    advisor.minImprovement = ratio
  }
  if (flags['verify-real']) {
    advisor.verifyReal = true
    // The mysql-index advisor reads it from the mysql target options.
    config = {...config, options: {...config.options, mysql: {...config.options?.mysql, verifyReal: true}}}
  }
  if (Object.keys(advisor).length === 0) return config
  return {...config, options: {...config.options, postgres: {...config.options?.postgres, indexAdvisor: advisor}}}
}

/** --shard-plan N is the postgres target option shardPlan: the probe hashes its samples over N, the advisor plans for N. */
function applyShardPlanFlag(config: ChokepointConfig, flags: CommonFlags): ChokepointConfig {
  if (flags['shard-plan'] === undefined) return config
  return {...config, options: {...config.options, postgres: {...config.options?.postgres, shardPlan: flags['shard-plan']}}}
}

export function chooseFormat(flags: CommonFlags, fallback = 'table'): string {
  if (flags.json) return 'json'
  const format = Array.isArray(flags.format) ? flags.format[0] : flags.format
  return format ?? fallback
}

/**
 * Colour only for people: an explicit --color or --no-color decides (no-color.org: per-invocation flags override
 * NO_COLOR); otherwise none when NO_COLOR is set or stdout is a file or pipe.
 */
export function useColor(flags: CommonFlags, toFile: boolean): boolean {
  if (flags.color !== undefined) return flags.color
  if (process.env.NO_COLOR) return false
  return !toFile && Boolean(process.stdout.isTTY) && process.env.TERM !== 'dumb'
}

/** Progress goes to stderr, never stdout; quiet when stderr is not a terminal unless verbose. */
export function progressLogger(verbose: boolean, ctx: CliContext): (message: string) => void {
  const show = verbose || Boolean(process.stderr.isTTY)
  return (message) => {
    if (show) process.stderr.write(`${ctx.secrets.scrub(message)}\n`)
  }
}

/**
 * The run's status lines and progress on stderr, through one renderer so a message never tears the bar: messages
 * as progressLogger shows them, progress of the slow parts (src/cli/progress.ts), nothing at all with --quiet.
 */
export function runProgress(flags: {verbose?: boolean; quiet?: boolean}, ctx: CliContext): {log: (message: string) => void; progress: Progress} {
  const renderer = new ProgressRenderer({quiet: flags.quiet, scrub: (text) => ctx.secrets.scrub(text)})
  const show = !flags.quiet && (Boolean(flags.verbose) || Boolean(process.stderr.isTTY))
  return {log: (message) => (show ? renderer.log(message) : undefined), progress: renderer}
}
