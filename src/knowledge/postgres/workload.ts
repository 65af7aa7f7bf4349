import {loadModule, parseSync, scanSync} from 'libpg-query'
import {UsageError} from '../../core/errors.js'

/** One statement of the workload and how often it runs (calls per second when compared with write rates). */
export interface WorkloadStatement {
  sql: string
  weight?: number
  /** Where it was read from (--queries): the file as given and the line its first token is on (1-based). */
  file?: string
  line?: number
}

/** What the CLI flags --queries/--query/--index-budget/... become in the postgres target options. */
export interface IndexAdvisorOptions {
  queries?: WorkloadStatement[]
  indexBudgetBytes?: number
  maxIndexes?: number
  /** Minimum relative cost cut of a statement for an index to count as helping it (ratio, default 0.10). */
  minImprovement?: number
  verifyReal?: boolean
  scratch?: boolean
  /** Statements read from pg_stat_statements by the plans probe (default 100). */
  maxStatements?: number
  /** Upper bound on what-if EXPLAIN calls per audit (default 20000). */
  maxWhatIfCalls?: number
  /** An index that saves at least this much statement time (ms per second) is a warning, below it info (default 10). */
  warnSavedMsPerSecond?: number
  /** ... or at least this much on each call of one statement it serves (ms, default 5). */
  warnSavedMsPerCall?: number
  /** An index that saves less than this (ms per second) gets no missing-index finding of its own (default 0: off). */
  minSavedMsPerSecond?: number
  /** The path verdict says "fix the indexes first" when the indexes save at least this share of statement time (default 0.5). */
  indexesFirstShare?: number
}

let loaded: Promise<void> | undefined
/** libpg-query's WASM module must be loaded once before its synchronous functions are called. */
export function ensureParser(): Promise<void> {
  loaded ??= loadModule()
  return loaded
}

/** Byte offsets (libpg-query) to string offsets: they differ as soon as the text holds non-ASCII characters. */
function byteToCharOffset(text: string): (byteOffset: number) => number {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length === text.length) return (b) => b
  return (b) => bytes.subarray(0, b).toString('utf8').length
}

export const WEIGHT_COMMENT = /^(?:--|\/\*)\s*weight\s*[:=]\s*([0-9]*\.?[0-9]+)/i

/**
 * Splits a SQL file into statements with the server's own parser (statement boundaries from
 * stmt_location/stmt_len) and reads an optional weight from a comment just before a statement:
 *
 *   -- weight: 50
 *   SELECT * FROM orders WHERE customer_id = $1;
 *
 * The weight is the statement's relative frequency (default 1), read as calls per second when weighed
 * against the write rates of the tables. Comments are found with the SQL scanner, not by pattern matching
 * on the SQL; only a comment's own text is matched against "weight: N".
 */
export async function parseQueriesText(text: string, origin = 'queries'): Promise<WorkloadStatement[]> {
  await ensureParser()
  let parsed
  try {
    parsed = parseSync(text)
  } catch (error) {
    throw new UsageError(`${origin}: not valid SQL: ${(error as Error).message}`)
  }
  const toChar = byteToCharOffset(text)
  const tokens = scanSync(text).tokens
  const out: WorkloadStatement[] = []
  let previousEnd = 0
  for (const raw of parsed.stmts ?? []) {
    const startByte = raw.stmt_location ?? 0
    const endByte = raw.stmt_len ? startByte + raw.stmt_len : Buffer.byteLength(text, 'utf8')
    // Comments between the previous statement and this one's first real token belong to this one.
    const regionTokens = tokens.filter((t) => t.start >= previousEnd && t.start < endByte)
    const firstReal = regionTokens.find((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT' && t.text !== ';')
    let weight: number | undefined
    for (const t of regionTokens) {
      if (firstReal && t.start >= firstReal.start) break
      const m = WEIGHT_COMMENT.exec(t.text.trim())
      if (m) weight = Number(m[1])
    }
    previousEnd = endByte
    if (!firstReal) continue
    const startChar = toChar(Math.max(firstReal.start, startByte))
    const sql = text.slice(startChar, toChar(endByte)).trim()
    // The line its first token is on, so a finding about it can point there (SARIF).
    const line = lineAt(text, startChar)
    if (sql) out.push({sql, ...(weight === undefined ? {} : {weight}), line})
  }
  return out
}

/** The 1-based line of a string offset. */
export function lineAt(text: string, offset: number): number {
  let line = 1
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++
  return line
}

/** The text of a --queries file, whichever dialect parses it; a file that cannot be read is a usage error naming it. */
export async function readQueriesFile(path: string): Promise<string> {
  const {readFileSync} = await import('node:fs')
  try {
    return readFileSync(path, 'utf8')
  } catch (error) {
    throw new UsageError(`--queries ${path}: cannot read the file (${(error as Error).message})`)
  }
}

/** Reads a --queries file; each statement remembers the file and its line. */
export async function parseQueriesFile(path: string): Promise<WorkloadStatement[]> {
  return (await parseQueriesText(await readQueriesFile(path), path)).map((s) => ({...s, file: path}))
}

/** The advisor options from the target options, with defaults applied. */
export function indexAdvisorOptions(options: Record<string, unknown> | undefined): IndexAdvisorOptions & {minImprovement: number} {
  const raw = (options?.indexAdvisor ?? {}) as IndexAdvisorOptions
  return {...raw, minImprovement: raw.minImprovement ?? 0.10}
}
