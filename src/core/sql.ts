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
