/**
 * Quoting for SQL that chokepoint proposes (remedies) or builds from catalog names. Identifiers are ALWAYS
 * double-quoted: a remedy is copied into a terminal or run by an applier, and "Mixed Case", names with spaces
 * or reserved words must come out exactly right; quoting a plain lower-case name costs nothing.
 */

/** "name", with embedded double quotes doubled. */
export function quoteIdent(name: string): string {
  return `"${String(name).replace(/"/g, '""')}"`
}

/** "schema"."name" (just "name" when schema is empty). */
export function quoteQualified(schema: string | null | undefined, name: string): string {
  return schema ? `${quoteIdent(schema)}.${quoteIdent(name)}` : quoteIdent(name)
}

/** A string literal: 'it''s'; with backslashes as E'...' so the text is the same whatever standard_conforming_strings says. */
export function quoteLiteral(text: string): string {
  const s = String(text).replace(/'/g, "''")
  return s.includes('\\') ? `E'${s.replace(/\\/g, '\\\\')}'` : `'${s}'`
}

// One part of a qualified name as PostgreSQL's lexer reads it: a quoted identifier ("" inside for "), or an unquoted
// one (letters, digits, _, $ and any non-ASCII character, not starting with a digit or $).
const NAME_PART = /^(?:"((?:[^"]|"")+)"|([A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*))/

/**
 * The parts of a qualified name written the way PostgreSQL prints one (quote_ident parts joined by dots, as the
 * probes select it): `public.orders`, `"My Schema"."a.b"`. Unquoted parts are folded to lower case as the server
 * folds them. Undefined when the text is anything else (more than three parts, spaces, a stray quote, a semicolon):
 * such text is not a name, and must not be pasted as one.
 */
export function parseQualifiedName(text: string): string[] | undefined {
  const parts: string[] = []
  let rest = text
  for (;;) {
    const m = NAME_PART.exec(rest)
    if (!m) return undefined
    parts.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2].replace(/[A-Z]/g, (c) => c.toLowerCase()))
    rest = rest.slice(m[0].length)
    if (rest === '') break
    if (rest[0] !== '.' || parts.length === 3) return undefined
    rest = rest.slice(1)
  }
  return parts.some((p) => p.includes('\u0000')) ? undefined : parts
}

/** A qualified name in PostgreSQL's notation, re-written with every part quoted; throws when it is not one. */
export function requoteQualified(text: string): string {
  const parts = parseQualifiedName(text)
  if (!parts) throw new Error(`not a qualified SQL name: ${JSON.stringify(text)}`)
  return parts.map(quoteIdent).join('.')
}

/**
 * MySQL and MariaDB: `name`, with embedded backticks doubled, whatever sql_mode says (ANSI_QUOTES changes what
 * double quotes mean, never backticks). Neither server accepts NUL in a name, so one is refused rather than cut short.
 */
export function quoteMysqlIdent(name: string): string {
  const s = String(name)
  if (s.includes('\u0000')) throw new Error('a MySQL identifier cannot contain a NUL character')
  return `\`${s.replace(/`/g, '``')}\``
}

/** `db`.`name` (just `name` when db is empty). */
export function quoteMysqlQualified(db: string | null | undefined, name: string): string {
  return db ? `${quoteMysqlIdent(db)}.${quoteMysqlIdent(name)}` : quoteMysqlIdent(name)
}
