/**
 * A statement text fit for a reading when the server gives only the raw one (MariaDB's running statements have no
 * DIGEST_TEXT yet): every literal becomes `?`, as in the server's own digests, so no password or token a statement
 * holds reaches the snapshot; statements that carry credentials in their syntax are withheld whole. A lexer, not a
 * parser: it follows MySQL's quoting (quotes doubled or backslash-escaped, backtick identifiers, comments) and keeps
 * everything else as it was.
 */
const CREDENTIAL_STATEMENTS = ['CREATE USER', 'ALTER USER', 'SET PASSWORD', 'GRANT', 'CHANGE MASTER', 'CHANGE REPLICATION SOURCE', 'START SLAVE', 'START REPLICA', 'CREATE SERVER', 'ALTER SERVER']

export const WITHHELD = '<statement with credentials: text withheld>'

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9'
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && (c === '_' || c === '$' || isDigit(c) || c.toLowerCase() !== c.toUpperCase())
}

/** The first words of the statement, comments skipped, upper-cased and single-spaced. */
function leadingWords(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').trim().split(/\s+/).slice(0, 3).join(' ').toUpperCase()
}

export function maskLiterals(text: string): string {
  if (CREDENTIAL_STATEMENTS.some((s) => leadingWords(text).startsWith(s))) return WITHHELD
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === "'" || c === '"') {
      // A string (or a double-quoted one, a string unless ANSI_QUOTES): doubled quote or backslash escapes.
      let j = i + 1
      while (j < text.length) {
        if (text[j] === '\\') j += 2
        else if (text[j] === c && text[j + 1] === c) j += 2
        else if (text[j] === c) break
        else j++
      }
      out += '?'
      i = j + 1
    } else if (c === '`') {
      const end = text.indexOf('`', i + 1)
      const j = end < 0 ? text.length : end + 1
      out += text.slice(i, j)
      i = j
    } else if (c === '-' && text[i + 1] === '-' || c === '#') {
      const end = text.indexOf('\n', i)
      i = end < 0 ? text.length : end
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      i = end < 0 ? text.length : end + 2
      out += ' '
    } else if (isDigit(c) && !isWordChar(text[i - 1])) {
      // A number (hex 0x.., decimals, exponents) not part of a name such as t1.
      let j = i + 1
      while (j < text.length && (isWordChar(text[j]) || text[j] === '.' || ((text[j] === '+' || text[j] === '-') && /[eE]/.test(text[j - 1])))) j++
      out += '?'
      i = j
    } else {
      out += c
      i++
    }
  }
  return out.replace(/\s+/g, ' ').trim()
}
