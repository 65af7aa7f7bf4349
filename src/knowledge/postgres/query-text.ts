import {normalizeSync, parseSync, scanSync, type ScanToken} from 'libpg-query'
import {ensureParser} from './workload.js'
import {formatValue, shortText} from '../../core/units.js'

/**
 * Query texts read from the server (pg_stat_activity, pg_stat_statements) made safe to store and print.
 *
 * They are data, not our SQL: a session that runs `ALTER ROLE app PASSWORD '...'` or selects a token puts the
 * secret in the text, and pg_stat_statements keeps utility statements and comments as they were written. Every
 * text is read with the server's own parser and scanner (libpg-query), never with patterns:
 *
 * - statements that carry credentials are replaced whole by their leading keywords and the reason;
 * - the rest is normalised (libpg-query's normalize: literals become $n, as pg_stat_statements does);
 * - what normalize leaves behind is replaced token by token: it skips the literals of some utility statements
 *   (CREATE TABLE AS, COPY ... PROGRAM, COMMENT ON, CREATE SERVER, PREPARE ...) and keeps comments, which carry
 *   tokens too (sqlcommenter tags, "-- password: ..."), so every remaining literal becomes $n and comments go;
 * - a text that does not parse (cut by track_activity_query_size or by a read limit) keeps what the scanner reads
 *   before the first token it cannot lex, literals replaced the same way, and ends in "…".
 */

export type QueryTextTreatment = 'normalised' | 'redacted' | 'partial' | 'withheld'

export interface SafeQueryText {
  text: string
  treatment: QueryTextTreatment
}

/** Printed in place of a text of which nothing could be read safely. */
export const WITHHELD_TEXT = '[query text withheld: it does not parse]'
/** What PostgreSQL shows instead of another role's text: not SQL, and nothing to hide. */
const INSUFFICIENT_PRIVILEGE = '<insufficient privilege>'
const COMMENTS = new Set(['SQL_COMMENT', 'C_COMMENT'])

type Node = Record<string, any>

interface LiteralTypes {
  strings: Set<number>
  numbers: Set<number>
}

let literalTypes: LiteralTypes | undefined
/**
 * Token types of literals, learnt from the scanner itself: libpg-query names SCONST, ICONST and FCONST but reports
 * bit, hex and Unicode-escaped strings as UNKNOWN, and the numbers are the grammar's, which move between versions.
 */
function literals(): LiteralTypes {
  const types = (sql: string) => new Set(scanSync(sql).tokens.filter((t) => t.text !== 'SELECT' && t.text !== ',').map((t) => t.tokenType))
  literalTypes ??= {strings: types(`SELECT 'a', E'b', $$c$$, $q$d$q$, U&'e', B'1', X'1', N'f'`), numbers: types('SELECT 1, 1.5, 1e3, 0x1F')}
  return literalTypes
}

function highestParam(tokens: ScanToken[]): number {
  let max = 0
  for (const t of tokens) if (t.tokenName === 'PARAM') max = Math.max(max, Number(t.text.slice(1)) || 0)
  return max
}

/**
 * The text again from its tokens: comments dropped, every string literal and every number not in `keepNumbersAt`
 * (byte offsets) replaced by the next free $n, and the whitespace between tokens folded to one space (these texts
 * are shown on one line).
 */
function fromTokens(text: string, tokens: ScanToken[], keepNumbersAt: Set<number>): string {
  const bytes = Buffer.from(text, 'utf8')
  const {strings, numbers} = literals()
  let next = highestParam(tokens) + 1
  let out = ''
  let end = 0
  let gap = false
  for (const t of tokens) {
    if (t.start > end) gap = true
    end = t.end
    if (COMMENTS.has(t.tokenName)) {
      gap = true
      continue
    }
    if (gap && out) out += ' '
    gap = false
    if (strings.has(t.tokenType) || (numbers.has(t.tokenType) && !keepNumbersAt.has(t.start))) out += `$${next++}`
    else out += bytes.subarray(t.start, t.end).toString('utf8')
  }
  return out
}

function walk(node: unknown, visit: (key: string, value: Node) => boolean | void): void {
  if (Array.isArray(node)) {
    for (const n of node) walk(n, visit)
    return
  }
  if (!node || typeof node !== 'object') return
  for (const [key, value] of Object.entries(node as Node)) {
    if (!value || typeof value !== 'object') continue
    if (visit(key, value) === false) continue
    walk(value, visit)
  }
}

/**
 * Numbers normalize leaves on purpose because they are syntax, not data: type modifiers (numeric(10,2)) and the
 * column positions of GROUP BY 1 / ORDER BY 2. (Array bounds, int[3], have no location in the tree and become $n:
 * PostgreSQL ignores them anyway.) Replacing them would change what the statement means (and what the
 * index advisor plans), so they stay; any other number left is a literal normalize did not reach.
 */
function structuralNumbers(normalised: string): Set<number> {
  const keep = new Set<number>()
  let tree
  try {
    tree = parseSync(normalised)
  } catch {
    return keep
  }
  const ordinal = (n: Node | undefined) => {
    if (n?.A_Const?.ival !== undefined && typeof n.A_Const.location === 'number') keep.add(n.A_Const.location)
  }
  walk(tree.stmts, (key, value) => {
    if (key === 'typmods') for (const m of value as Node[]) if (typeof m.A_Const?.location === 'number') keep.add(m.A_Const.location)
    if (key === 'SelectStmt') {
      for (const g of value.groupClause ?? []) ordinal(g)
      for (const s of value.sortClause ?? []) ordinal(s.SortBy?.node)
    }
  })
  return keep
}

/** Why a statement is redacted whole, from its parse tree; undefined when it carries no credential. */
function credentialReason(stmt: Node): string | undefined {
  const [kind] = Object.keys(stmt)
  const body = stmt[kind] ?? {}
  const options: Node[] = body.options ?? []
  if ((kind === 'CreateRoleStmt' || kind === 'AlterRoleStmt') && options.some((o) => o.DefElem?.defname === 'password')) return 'it sets a password'
  if (kind === 'CreateUserMappingStmt' || kind === 'AlterUserMappingStmt') return 'user mapping options carry credentials'
  if ((kind === 'CreateForeignServerStmt' || kind === 'AlterForeignServerStmt') && options.length > 0) return 'server options can carry credentials'
  if ((kind === 'CreateSubscriptionStmt' || kind === 'AlterSubscriptionStmt') && body.conninfo) return 'it holds a connection string'
  if (kind === 'CopyStmt' && body.is_program) return 'a COPY PROGRAM command line can carry credentials'
  let dblink: string | undefined
  walk(body, (key, value) => {
    if (key !== 'FuncCall' || dblink) return
    const names: Node[] = value.funcname ?? []
    const name = String(names[names.length - 1]?.String?.sval ?? '').toLowerCase()
    if (name.startsWith('dblink')) dblink = name
  })
  return dblink ? `${dblink} takes a connection string` : undefined
}

/**
 * The same decision from tokens alone, for texts that do not parse: keywords and function names only. Returns the
 * reason and where the statement starts (byte offset).
 */
function credentialFromTokens(tokens: ScanToken[]): {reason: string; start: number} | undefined {
  const statements: ScanToken[][] = [[]]
  for (const t of tokens) {
    if (COMMENTS.has(t.tokenName)) continue
    if (t.text === ';') statements.push([])
    else statements[statements.length - 1].push(t)
  }
  const name = (t: ScanToken) => (t.text.startsWith('"') ? t.text.slice(1, -1) : t.text).toLowerCase()
  for (const s of statements) {
    if (s.length === 0) continue
    const word = (i: number) => (s[i] && s[i].keywordKind > 0 ? s[i].text.toUpperCase() : undefined)
    const keywords = new Set(s.filter((t) => t.keywordKind > 0).map((t) => t.text.toUpperCase()))
    const ddl = word(0) === 'CREATE' || word(0) === 'ALTER'
    const dblink = s.find((t) => t.keywordKind === 0 && name(t).startsWith('dblink'))
    let reason: string | undefined
    if (ddl && word(1) === 'USER' && word(2) === 'MAPPING') reason = 'user mapping options carry credentials'
    else if (ddl && ['ROLE', 'USER', 'GROUP'].includes(word(1) ?? '') && keywords.has('PASSWORD')) reason = 'it sets a password'
    else if (ddl && word(1) === 'SERVER') reason = 'server options can carry credentials'
    else if (ddl && word(1) === 'SUBSCRIPTION') reason = 'it holds a connection string'
    else if (word(0) === 'COPY' && keywords.has('PROGRAM')) reason = 'a COPY PROGRAM command line can carry credentials'
    else if (dblink) reason = `${name(dblink)} takes a connection string`
    if (reason) return {reason, start: s[0].start}
  }
  return undefined
}

/** The keywords a statement starts with (ALTER ROLE, CREATE USER MAPPING FOR ...): enough to recognise it, never data. */
function leadingKeywords(tokens: ScanToken[], fromByte: number): string {
  const words: string[] = []
  for (const t of tokens) {
    if (t.start < fromByte || COMMENTS.has(t.tokenName)) continue
    if (t.keywordKind === 0 || words.length === 4) break
    words.push(t.text.toUpperCase())
  }
  return words.join(' ') || 'statement'
}

const redacted = (keywords: string, reason: string): SafeQueryText => ({text: `${keywords} … [redacted: ${reason}]`, treatment: 'redacted'})

function charsBefore(text: string, charOffset: number): string {
  return Array.from(text).slice(0, Math.max(0, charOffset)).join('')
}

/**
 * A text the parser refuses. Cut by the server (track_activity_query_size) or by our read limit, it usually ends
 * inside a literal, a quoted name or a comment, which the scanner cannot lex either; the parser's error position is
 * where that token starts, so the text before it is scanned instead. What could still be a secret is a literal
 * (replaced) or the unlexable tail (dropped); what is kept is keywords, names and operators, which is enough to
 * recognise the statement. A fingerprint was the alternative, but it needs a parse tree, and a digest of the raw
 * text could be brute-forced back to a short password.
 */
function partial(text: string, error: unknown): SafeQueryText {
  let prefix = text
  let tokens: ScanToken[] | undefined
  try {
    tokens = scanSync(text).tokens
  } catch {
    const at = (error as {sqlDetails?: {cursorPosition?: number}})?.sqlDetails?.cursorPosition
    if (typeof at === 'number' && at > 0) {
      prefix = charsBefore(text, at)
      try {
        tokens = scanSync(prefix).tokens
      } catch {
        tokens = undefined
      }
    }
  }
  if (!tokens || tokens.every((t) => COMMENTS.has(t.tokenName))) return {text: WITHHELD_TEXT, treatment: 'withheld'}
  const credential = credentialFromTokens(tokens)
  if (credential) return redacted(leadingKeywords(tokens, credential.start), credential.reason)
  return {text: `${fromTokens(prefix, tokens, new Set())} …`, treatment: 'partial'}
}

/** One query text made safe to store and print (the parser must be loaded: see safeQueryTexts). */
export function safeQueryTextSync(text: string): SafeQueryText {
  if (!text.trim() || text === INSUFFICIENT_PRIVILEGE) return {text, treatment: 'normalised'}
  let tree
  try {
    tree = parseSync(text)
  } catch (error) {
    return partial(text, error)
  }
  const stmts = tree.stmts ?? []
  for (const s of stmts) {
    const reason = credentialReason((s.stmt ?? {}) as Node)
    if (reason) {
      let tokens: ScanToken[] = []
      try {
        tokens = scanSync(text).tokens
      } catch {
        // Parsed, so it scans; without tokens the label is only less specific.
      }
      return redacted(leadingKeywords(tokens, s.stmt_location ?? 0), reason)
    }
  }
  let normalised: string
  let tokens: ScanToken[]
  try {
    normalised = normalizeSync(text)
    tokens = scanSync(normalised).tokens
  } catch (error) {
    return partial(text, error)
  }
  return {text: fromTokens(normalised, tokens, structuralNumbers(normalised)), treatment: 'normalised'}
}

/** Query texts made safe to store and print, in order. */
export async function safeQueryTexts(texts: string[]): Promise<SafeQueryText[]> {
  await ensureParser()
  return texts.map(safeQueryTextSync)
}

/** A safe text cut for display; cutting after making it safe can only lose placeholders, never reveal a literal. */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** What a report says about a statement next to its text; every field is optional (a --queries statement has none). */
/**
 * pg_stat_activity texts are read whole (up to this many characters) and made safe before they are cut for display:
 * cutting first would leave a literal open at the cut, and a text that does not parse can only keep what precedes
 * its first unreadable token. Longer texts are cut here and treated like those the server cut
 * (track_activity_query_size).
 */
export const SESSION_TEXT_READ_CHARS = 16_384
/** Characters of a session's safe text kept in the reading and shown in findings. */
export const SESSION_TEXT_SHOWN_CHARS = 200

/**
 * Session texts are what clients sent, literals and comments included (a password being set, a token selected):
 * only their safe form is kept, cut to SESSION_TEXT_SHOWN_CHARS, so neither the snapshot nor any finding holds them.
 * `keepRaw` (the target option unsafeRawQueryTexts) keeps the server's text beside it in `rawQuery` (never in
 * findings) for whoever needs it and accepts the risk.
 */
export async function makeSessionTextsSafe(rows: Array<{query: string | null; rawQuery?: string | null}>, keepRaw: boolean): Promise<void> {
  const safe = await safeQueryTexts(rows.map((r) => r.query ?? ''))
  rows.forEach((r, i) => {
    if (keepRaw) r.rawQuery = r.query
    if (r.query !== null) r.query = clip(safe[i].text, SESSION_TEXT_SHOWN_CHARS)
  })
}

export interface StatementFigures {
  calls?: number
  meanMs?: number
  totalMs?: number
  /** Share of this database's statement time (pg_stat_statements), 0..1. */
  share?: number
}

const finite = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n)

/** "40 calls", "mean 8.66 ms", "total 346 ms", "49.2% of this database's statement time", for the figures known. */
export function statementFigures(f: StatementFigures): string[] {
  const out: string[] = []
  if (finite(f.calls)) out.push(`${formatValue(f.calls, 'count')} calls`)
  if (finite(f.meanMs)) out.push(`mean ${formatValue(f.meanMs / 1000, 'seconds')}`)
  if (finite(f.totalMs)) out.push(`total ${formatValue(f.totalMs / 1000, 'seconds')}`)
  if (finite(f.share)) out.push(`${formatValue(f.share, 'ratio')} of this database's statement time`)
  return out
}

/**
 * How a message names a statement: `statement <id> \`<safe SQL, one line, shortened>\` (calls, mean, total, share;
 * extra)`. `sql` must already be a safe text (safeQueryTextSync); the finding's evidence keeps the whole of it.
 */
export function describeStatement(id: string, sql: string, figures: StatementFigures = {}, extra: string[] = []): string {
  const parts = [...statementFigures(figures), ...extra]
  return `statement ${id} \`${shortText(sql)}\`${parts.length ? ` (${parts.join(', ')})` : ''}`
}
