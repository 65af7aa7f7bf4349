// Every name chokepoint prints into MySQL/MariaDB SQL goes through quoteMysqlIdent; whatever the name holds
// (backticks, quotes, newlines, dots, semicolons, non-ASCII), the statement must read back with exactly that name.
import fc from 'fast-check'
import NodeSqlParser from 'node-sql-parser'
import {describe, expect, it} from 'vitest'
import {candidateDdl} from '../../../src/advisors/mysql-index/candidates.js'
import {quoteMysqlIdent, quoteMysqlQualified} from '../../../src/core/sql.js'
import {statementShape} from '../../../src/knowledge/mysql/statement-shape.js'

const {Parser} = NodeSqlParser as unknown as {Parser: new () => {astify(sql: string, opt?: {database?: string}): any}}
const parser = new Parser()

// MySQL names: 1..64 characters, no NUL, not ending with a space (the server refuses those). The alphabet leans on
// the characters that break quoting.
const hostile = fc.constantFrom('`', '``', '"', "'", '\n', '\\', ';', '.', ' ', '--', '/*', 'é', '表', 'a', 'B', '_', '1', '$')
const mysqlName = fc.array(hostile, {minLength: 1, maxLength: 12}).map((parts) => parts.join('').slice(0, 64))
  .filter((s) => s.length > 0 && !s.endsWith(' '))

const unquote = (s: string) => s.replace(/``/g, '`')

describe('MySQL identifier quoting', () => {
  it('doubles backticks and refuses NUL', () => {
    expect(quoteMysqlIdent('a`b')).toBe('`a``b`')
    expect(quoteMysqlQualified('my db', 't')).toBe('`my db`.`t`')
    expect(quoteMysqlQualified('', 't')).toBe('`t`')
    expect(() => quoteMysqlIdent('a\u0000b')).toThrow(/NUL/)
  })

  it('property: a quoted schema, table and column read back as themselves through the MySQL parser', () => {
    fc.assert(fc.property(mysqlName, mysqlName, mysqlName, (db, table, column) => {
      const sql = `SELECT ${quoteMysqlIdent(column)} FROM ${quoteMysqlQualified(db, table)} WHERE ${quoteMysqlIdent(column)} = 1`
      const ast = parser.astify(sql, {database: 'MySQL'})
      expect(unquote(ast.from[0].db)).toBe(db)
      expect(unquote(ast.from[0].table)).toBe(table)
      expect(unquote(ast.where.left.column)).toBe(column)
      // And the statement shape sees the same names.
      const shape = statementShape(sql, {flavour: 'mysql', defaultSchema: 'unused'})
      expect(shape.tables[0]).toMatchObject({schema: db, table, equality: [column]})
    }), {numRuns: 300})
  })

  it('property: a proposed CREATE INDEX names the table and columns it was made for', () => {
    fc.assert(fc.property(mysqlName, mysqlName, fc.array(mysqlName, {minLength: 1, maxLength: 3}), (db, table, columns) => {
      const cols = [...new Set(columns)]
      const {sql} = candidateDdl({schema: db, table, columns: cols, desc: cols.map(() => false), kind: 'lookup', why: '', replaces: []},
        {schema: db, table, engine: 'InnoDB', rows: 10, dataBytes: 10, indexBytes: 0}, [])
      const ast = parser.astify(sql.replace(/;$/, ''), {database: 'MySQL'})
      expect(unquote(ast.table.db)).toBe(db)
      expect(unquote(ast.table.table)).toBe(table)
      expect(ast.index_columns.map((c: {column: string}) => unquote(c.column))).toEqual(cols)
    }), {numRuns: 300})
  })
})
