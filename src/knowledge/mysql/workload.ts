import NodeSqlParser from 'node-sql-parser'
import {UsageError} from '../../core/errors.js'
import {lineAt, readQueriesFile, WEIGHT_COMMENT, type WorkloadStatement} from '../postgres/workload.js'

/**
 * A --queries file for a MySQL/MariaDB target: statements with the optional "-- weight: N" comment before each, as
 * for PostgreSQL, but in the MySQL dialect (backtick names, # comments, backslash escapes): never the PostgreSQL
 * parser. A scanner that knows MySQL's quoting finds the `;` between statements and the comments before each, and
 * node-sql-parser (MariaDB grammar, then MySQL's) must parse every statement, so a typo fails here with its line.
 */

type Token = {kind: 'comment' | 'semicolon' | 'other'; start: number; end: number}

/** The comments and the statement-ending semicolons of `text`; strings, backtick names and everything else is 'other'. */
function scan(text: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i]
    const start = i
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1
      while (j < text.length) {
        if (c !== '`' && text[j] === '\\') j += 2
        else if (text[j] === c && text[j + 1] === c) j += 2
        else if (text[j] === c) break
        else j++
      }
      i = j + 1
      out.push({kind: 'other', start, end: Math.min(i, text.length)})
    } else if ((c === '-' && text[i + 1] === '-' && /\s/.test(text[i + 2] ?? ' ')) || c === '#') {
      const end = text.indexOf('\n', i)
      i = end < 0 ? text.length : end
      out.push({kind: 'comment', start, end: i})
    } else if (c === '/' && text[i + 1] === '*' && text[i + 2] !== '!') {
      const end = text.indexOf('*/', i + 2)
      i = end < 0 ? text.length : end + 2
      out.push({kind: 'comment', start, end: i})
    } else if (c === ';') {
      i++
      out.push({kind: 'semicolon', start, end: i})
    } else if (/\s/.test(c)) {
      i++
    } else {
      i++
      out.push({kind: 'other', start, end: i})
    }
  }
  return out
}

const {Parser} = NodeSqlParser as unknown as {Parser: new () => {astify(sql: string, opt?: {database?: string}): unknown}}
let parser: InstanceType<typeof Parser> | undefined

function parses(sql: string): string | undefined {
  parser ??= new Parser()
  try {
    parser.astify(sql, {database: 'MariaDB'})
    return undefined
  } catch {
    try {
      parser.astify(sql, {database: 'MySQL'})
      return undefined
    } catch (error) {
      return String((error as Error).message ?? error).split('\n')[0]
    }
  }
}

export function parseMysqlQueriesText(text: string, origin = 'queries'): WorkloadStatement[] {
  const out: WorkloadStatement[] = []
  let weight: number | undefined
  let first: Token | undefined
  let last: Token | undefined
  const flush = () => {
    if (first && last) {
      const sql = text.slice(first.start, last.end).trim()
      const problem = parses(sql)
      const line = lineAt(text, first.start)
      if (problem) throw new UsageError(`${origin}:${line}: not valid MySQL/MariaDB SQL: ${problem}`)
      out.push({sql, ...(weight === undefined ? {} : {weight}), line})
    }
    weight = undefined
    first = last = undefined
  }
  for (const t of scan(text)) {
    if (t.kind === 'semicolon') flush()
    else if (t.kind === 'comment') {
      // Only a comment before a statement's first token gives its weight.
      const m = first ? null : WEIGHT_COMMENT.exec(text.slice(t.start, t.end).trim())
      if (m) weight = Number(m[1])
    } else {
      first ??= t
      last = t
    }
  }
  flush()
  return out
}

export async function parseMysqlQueriesFile(path: string): Promise<WorkloadStatement[]> {
  return parseMysqlQueriesText(await readQueriesFile(path), path).map((s) => ({...s, file: path}))
}
