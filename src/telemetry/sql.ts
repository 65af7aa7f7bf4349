import {loadModule, normalizeSync} from 'libpg-query'

/** libpg-query's WASM module loads asynchronously: await this once before normaliseSql is called. */
export function loadSqlNormaliser(): Promise<void> {
  return loadModule()
}

/**
 * SQL as a trace may carry it: PostgreSQL's own normalisation (libpg-query, the parser pg_stat_statements uses),
 * every literal replaced by a $n placeholder, so a value typed into a query (a --query with a password in a
 * WHERE clause, a SET with a number) never leaves the process. Then comments go and whitespace is folded to one
 * line; with the literals gone no string is left that a `--` or `/*` could sit in. Text the parser rejects is not
 * exported at all.
 */
export function normaliseSql(sql: string): string | undefined {
  let normalised: string
  try {
    normalised = normalizeSync(sql)
  } catch {
    return undefined
  }
  return normalised.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/\s+/g, ' ').trim()
}
