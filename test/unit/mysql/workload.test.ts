import {describe, expect, it} from 'vitest'
import {parseMysqlQueriesText} from '../../../src/knowledge/mysql/workload.js'
import {queriesKind} from '../../../src/cli/options.js'

describe('--queries in the MySQL dialect', () => {
  it('splits on the semicolons outside strings, names and comments, with weights and lines', () => {
    const text = "# a comment; not a statement\n-- weight: 40\nSELECT `a;b` FROM `t` WHERE s = 'x;y' AND u = \"v;w\" AND e = 'it\\'s;';\n/* weight: 2 */ DELETE FROM t WHERE id = 1 -- trailing; comment\n;\nSELECT 1"
    expect(parseMysqlQueriesText(text)).toEqual([
      {sql: "SELECT `a;b` FROM `t` WHERE s = 'x;y' AND u = \"v;w\" AND e = 'it\\'s;'", weight: 40, line: 3},
      {sql: 'DELETE FROM t WHERE id = 1', weight: 2, line: 4},
      {sql: 'SELECT 1', line: 6},
    ])
  })
  it('fails with the file, the line and the parser\'s message', () => {
    expect(() => parseMysqlQueriesText('SELECT 1;\n\nSELECT FROM WHERE;', 'q.sql')).toThrow(/^q\.sql:3: not valid MySQL\/MariaDB SQL: /)
  })
  it('is the mysql targets\' only when no postgres target is audited', () => {
    expect(queriesKind(new Set(['mysql']), {})).toBe('mysql')
    expect(queriesKind(new Set(['mysql', 'redis']), {})).toBe('mysql')
    expect(queriesKind(new Set(['postgres']), {})).toBe('postgres')
    expect(queriesKind(new Set(['postgres', 'mysql']), {})).toBe('postgres')
    expect(queriesKind(new Set(), {})).toBe('postgres')
  })
})
