import type {Probe, ProbeOutput} from '../../core/probe.js'
import {errorMessage} from '../../core/errors.js'
import type {ReadingGap} from '../../core/types.js'
import {round} from '../../core/numbers.js'
import {quoteMysqlIdent} from '../../core/sql.js'
import type {MysqlSession} from '../../drivers/mysql.js'
import {indexesFromStatistics, tableKey, tablesFromRows, type MysqlIndex, type MysqlTable, type StatisticsRow, type TableRow} from '../../knowledge/mysql/catalog.js'
import {explainPlan, maskPlan} from '../../knowledge/mysql/explainable.js'
import {parseExplain} from '../../knowledge/mysql/explain.js'
import {CONSUMERS_SQL, ENABLE_HISTORY_FIX, hasQuerySampleText, historySource, historySql, samplesByDigest, type SampleRow, type SampleSource} from '../../knowledge/mysql/sample-texts.js'
import {statementShape} from '../../knowledge/mysql/statement-shape.js'
import {intOption} from '../postgres/skip.js'
import {maskLiterals} from './query-text.js'
import {MONITORING_EXCLUDED, digestKey} from './statements.js'
import {PICOSECONDS_PER_SECOND, queryOrSkip, requirePerformanceSchema} from './skip.js'
import {statisticsSql} from './index-health.js'

const WHAT = 'mysql.plans'
export const DEFAULT_PLANS_TOP_N = 20

/** One statement planned: a costly digest, or one given with --queries / --query. Never its literal values. */
export interface MysqlPlanStatement {
  /** The digest, or q1, q2 … for given statements. */
  id: string
  /** The database its unqualified tables are in (the digest's SCHEMA_NAME, or the URL's database). */
  schema: string | null
  /** The statement with every literal masked (query-text.ts): what is shown, and what the index advisor parses. */
  sql: string
  /** The server's normalised text of the digest. */
  digestText?: string
  calls?: number
  totalSeconds?: number
  /** --queries: the "-- weight: N" given. */
  weight?: number
  origin?: {file: string; line: number}
  /** What was explained: the statement itself, or the read part of a write (explainable.ts). */
  explained?: 'statement' | 'read part'
  /** EXPLAIN FORMAT=JSON with the literals of its conditions masked. */
  plan?: unknown
  summary?: {fullScans: string[]; accessTypes: Record<string, string>; rowsExamined: number | null; usingFilesort: boolean; usingTemporary: boolean}
  /** Why it was not explained (not a statement EXPLAIN takes, no sample text). */
  skipped?: string
  error?: string
}

export interface MysqlPlansData {
  source: 'digests' | 'queries'
  sampleSource?: SampleSource
  statements: MysqlPlanStatement[]
  /** The tables the statements name, their indexes and columns. */
  catalog: {tables: MysqlTable[]; indexes: MysqlIndex[]; columns: Array<{schema: string; table: string; columns: string[]}>}
  explainMs: number
}

/*
 * Only digests that start like a statement EXPLAIN may take (the server writes a digest's keywords in capitals):
 * DDL, CALL, COMMIT, SET and SHOW would otherwise take the costliest slots (a schema migration's CREATE TABLEs do)
 * and leave none to plan. Choosing rows, not deciding: the parser still decides on each sample (explainable.ts).
 */
const PLANNABLE_KEYWORD = `(${['SELECT ', 'UPDATE ', 'DELETE ', 'INSERT ', 'REPLACE ', 'WITH ', '('].map((k) => `DIGEST_TEXT LIKE '${k}%'`).join(' OR ')})`
/* Reads of the sys and mysql schemas are monitoring (chokepoint's index-health among them): no index is advised there. */
const SYSTEM_SCHEMAS_EXCLUDED = "DIGEST_TEXT NOT LIKE '%`sys` .%' AND DIGEST_TEXT NOT LIKE '%`mysql` .%'"


const DIGESTS_SQL = (sample: boolean) => `SELECT SCHEMA_NAME AS s, DIGEST AS d, DIGEST_TEXT AS q, COUNT_STAR AS c, SUM_TIMER_WAIT AS t${sample ? ', QUERY_SAMPLE_TEXT AS x' : ''}
FROM performance_schema.events_statements_summary_by_digest
WHERE DIGEST IS NOT NULL AND ${MONITORING_EXCLUDED} AND ${SYSTEM_SCHEMAS_EXCLUDED} AND ${PLANNABLE_KEYWORD} ORDER BY SUM_TIMER_WAIT DESC LIMIT ?`

const TABLES_SQL = `SELECT TABLE_SCHEMA, TABLE_NAME, ENGINE, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES
  WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (?) AND TABLE_NAME IN (?)`
const COLUMNS_SQL = `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS
  WHERE TABLE_SCHEMA IN (?) AND TABLE_NAME IN (?) ORDER BY ORDINAL_POSITION`

interface DigestRow {s: string | null; d: string; q: string | null; c: string; t: string; x?: string | null}

/** Given statements (--queries, --query) as the target option `queries` holds them. */
interface GivenStatement {sql: string; weight?: number; file?: string; line?: number}

function givenStatements(options: Record<string, unknown>): GivenStatement[] | undefined {
  const q = options.queries
  return Array.isArray(q) && q.length > 0 ? (q as GivenStatement[]).filter((s) => typeof s?.sql === 'string') : undefined
}

/** A server error about a statement with literals, on one line and masked: "near '…'" quotes the statement back. */
const scrubbed = (message: string) => maskLiterals(message.split('\n')[0])

function summaryOf(plan: unknown, flavour: 'mysql' | 'mariadb'): MysqlPlanStatement['summary'] {
  const s = parseExplain(plan, flavour)
  const examined = s.accesses.reduce<number | null>((sum, a) => (a.rowsExamined === null ? sum : (sum ?? 0) + a.rowsExamined), null)
  return {fullScans: s.fullScans.map((a) => a.table), accessTypes: Object.fromEntries(s.accesses.map((a) => [a.table, a.accessType])),
    rowsExamined: examined, usingFilesort: s.usingFilesort, usingTemporary: s.usingTemporary}
}

/** Tables the statements name, by schema, for the catalog reads (parsed from the masked texts). */
function tablesNamed(statements: MysqlPlanStatement[], flavour: 'mysql' | 'mariadb', fallbackSchema: string): Array<{schema: string; table: string}> {
  const out = new Map<string, {schema: string; table: string}>()
  for (const s of statements) {
    try {
      for (const t of statementShape(s.sql, {flavour, defaultSchema: s.schema ?? fallbackSchema}).tables) out.set(tableKey(t.schema, t.table), {schema: t.schema, table: t.table})
    } catch {
      // Not parsable: the advisor notes it; there is no table to read.
    }
  }
  return [...out.values()]
}

async function readCatalog(session: MysqlSession, named: Array<{schema: string; table: string}>): Promise<MysqlPlansData['catalog']> {
  if (named.length === 0) return {tables: [], indexes: [], columns: []}
  const schemas = [...new Set(named.map((t) => t.schema))]
  const names = [...new Set(named.map((t) => t.table))]
  const wanted = new Set(named.map((t) => tableKey(t.schema, t.table)))
  const mine = <R>(schemaOf: (r: R) => string, tableOf: (r: R) => string) => (r: R) => wanted.has(tableKey(schemaOf(r), tableOf(r)))
  // Only the tables the statements name: three round trips and rows in proportion to them, however large the server.
  const [statistics, tables, columns] = await Promise.all([
    queryOrSkip<StatisticsRow & Record<string, unknown>>(session, WHAT, 'performance_schema', `${statisticsSql(session.flavour)} AND TABLE_SCHEMA IN (?) AND TABLE_NAME IN (?)`, [schemas, names]),
    queryOrSkip<TableRow & Record<string, unknown>>(session, WHAT, 'performance_schema', TABLES_SQL, [schemas, names]),
    queryOrSkip<{s: string; t: string; c: string}>(session, WHAT, 'performance_schema', COLUMNS_SQL, [schemas, names]),
  ])
  const byTable = new Map<string, {schema: string; table: string; columns: string[]}>()
  for (const c of columns.filter(mine<{s: string; t: string}>((r) => r.s, (r) => r.t))) {
    const k = tableKey(c.s, c.t)
    const entry = byTable.get(k) ?? {schema: c.s, table: c.t, columns: []}
    entry.columns.push(c.c)
    byTable.set(k, entry)
  }
  return {
    tables: tablesFromRows(tables.filter(mine<TableRow>((r) => r.TABLE_SCHEMA, (r) => r.TABLE_NAME))),
    indexes: indexesFromStatistics(statistics.filter(mine<StatisticsRow>((r) => r.TABLE_SCHEMA, (r) => r.TABLE_NAME))),
    columns: [...byTable.values()],
  }
}

/** The costliest digests with their sample texts (or none, and the gap saying how to get them). */
async function digestStatements(session: MysqlSession, topN: number): Promise<{statements: Array<MysqlPlanStatement & {sample?: string}>; sampleSource?: SampleSource; gap?: ReadingGap}> {
  await requirePerformanceSchema(session, WHAT)
  const inSummary = hasQuerySampleText(session.flavour, session.versionNum)
  // Three times N: statements EXPLAIN does not take (INSERT … VALUES, SELECT … INTO) are passed over without a round trip.
  const rows = await queryOrSkip<DigestRow & Record<string, unknown>>(session, WHAT, 'performance_schema', DIGESTS_SQL(inSummary), [topN * 3])
  let samples = new Map<string, string>()
  let sampleSource: SampleSource | undefined
  let gap: ReadingGap | undefined
  if (inSummary) {
    sampleSource = 'events_statements_summary_by_digest.QUERY_SAMPLE_TEXT'
    samples = samplesByDigest(rows.map((r) => ({d: r.d, s: r.s, t: r.x ?? null})), digestKey)
  } else if (rows.length > 0) {
    const consumers = await queryOrSkip<{name: string; enabled: string}>(session, WHAT, 'performance_schema', CONSUMERS_SQL)
    sampleSource = historySource(consumers)
    if (sampleSource && sampleSource !== 'events_statements_summary_by_digest.QUERY_SAMPLE_TEXT') {
      const history = await queryOrSkip<SampleRow & Record<string, unknown>>(session, WHAT, 'performance_schema', historySql(sampleSource), [[...new Set(rows.map((r) => r.d))]])
      samples = samplesByDigest(history, digestKey)
    } else {
      gap = {what: 'statement sample texts', reason: `${session.flavour} keeps no sample text per digest, and the statement history consumers are disabled: no digest can be explained (chokepoint never writes: the fix is yours to run; set performance-schema-consumer-events-statements-history-long=ON in the server config to keep it after a restart)`, fix: ENABLE_HISTORY_FIX}
    }
  }
  const statements = rows.map((r) => {
    const sample = samples.get(digestKey(r.s, r.d))
    const calls = Number(r.c)
    return {
      id: r.d, schema: r.s, sql: sample ? maskLiterals(sample) : (r.q ?? ''), ...(r.q ? {digestText: r.q} : {}), calls,
      totalSeconds: round(Number(r.t) / PICOSECONDS_PER_SECOND, 6), ...(sample ? {sample} : {skipped: `no sample text of this digest in ${sampleSource ?? 'any table'}: not explained`}),
    }
  })
  return {statements, sampleSource, gap}
}

export const plansProbe: Probe<MysqlSession> = {
  id: WHAT,
  kind: 'mysql',
  description: 'EXPLAIN FORMAT=JSON of the costliest digests (their sample texts) or of --queries statements, never run; literals masked; the catalog of the tables they name',
  async collect(session, ctx): Promise<ProbeOutput> {
    const topN = intOption(ctx.options, 'plansTopN', DEFAULT_PLANS_TOP_N)
    const given = givenStatements(ctx.options)
    let source: MysqlPlansData['source'] = 'digests'
    let candidates: Array<MysqlPlanStatement & {sample?: string}>
    let sampleSource: SampleSource | undefined
    const notRead: ReadingGap[] = []
    if (given) {
      source = 'queries'
      candidates = given.map((g, i) => ({id: `q${i + 1}`, schema: session.database || null, sql: maskLiterals(g.sql), sample: g.sql,
        ...(g.weight !== undefined ? {weight: g.weight} : {}), ...(g.file ? {origin: {file: g.file, line: g.line ?? 1}} : {})}))
    } else {
      const read = await digestStatements(session, topN)
      candidates = read.statements
      sampleSource = read.sampleSource
      if (read.gap) notRead.push(read.gap)
    }

    const started = performance.now()
    let current: string | null = session.database || null
    let explained = 0
    const statements: MysqlPlanStatement[] = []
    for (const {sample, ...s} of candidates) {
      if (sample === undefined) {
        statements.push(s)
        continue
      }
      const plan = explainPlan(sample, session.flavour)
      if ('refused' in plan) {
        statements.push({...s, skipped: plan.refused})
        continue
      }
      // Bounded: at most N EXPLAINs (given statements count too).
      if (explained >= topN) {
        statements.push({...s, skipped: `beyond the ${topN} statements explained (plansTopN)`})
        continue
      }
      explained++
      try {
        if (s.schema && s.schema !== current) {
          await session.query(`USE ${quoteMysqlIdent(s.schema)}`)
          current = s.schema
        }
        // The sample holds literal values: the command log and any error see only the masked text.
        const [row] = await session.query<{EXPLAIN: string}>(`EXPLAIN FORMAT=JSON ${plan.text}`, undefined, {text: `EXPLAIN FORMAT=JSON ${maskLiterals(plan.text)}`, scrub: scrubbed})
        const json = JSON.parse(String(Object.values(row ?? {})[0] ?? ''))
        session.explainTexts.set(s.id, {schema: s.schema, text: plan.text})
        const masked = maskPlan(json)
        statements.push({...s, explained: plan.readPart ? 'read part' : 'statement', plan: masked, summary: summaryOf(masked, session.flavour)})
      } catch (error) {
        const e = error as {errno?: number}
        if (e?.errno === 1142 || e?.errno === 1044) {
          statements.push({...s, error: `${scrubbed(errorMessage(error))}; fix: GRANT SELECT ON ${s.schema ? quoteMysqlIdent(s.schema) : '`<database>`'}.* TO '${session.user}'@'%' (EXPLAIN needs SELECT on the tables)`})
        } else if (session.lost) {
          throw error
        } else {
          statements.push({...s, error: scrubbed(errorMessage(error))})
        }
      }
    }
    const explainMs = round(performance.now() - started)
    const catalog = await readCatalog(session, tablesNamed(statements, session.flavour, session.database))
    const data: MysqlPlansData = {source, ...(sampleSource ? {sampleSource} : {}), statements, catalog, explainMs}
    const failed = statements.filter((s) => s.error).length
    if (failed > 0) notRead.push({what: 'plans', reason: `${failed} of ${explained} EXPLAINs failed (each statement's error says why)`, missing: failed, of: explained})
    return {data, metrics: [], ...(notRead.length ? {notRead} : {})}
  },
}
