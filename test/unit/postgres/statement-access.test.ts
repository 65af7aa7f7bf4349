/** Where a statement can run (the read-replica advisor's classification), from libpg-query parse trees. */
import {beforeAll, describe, expect, it} from 'vitest'
import {statementAccess} from '../../../src/knowledge/postgres/statement-writes.js'
import {ensureParser} from '../../../src/knowledge/postgres/workload.js'

describe('statementAccess', () => {
  beforeAll(() => ensureParser())

  it.each([
    ['SELECT * FROM a JOIN s.b ON a.id = b.id WHERE a.x = $1', {access: 'read', kind: 'select', tables: ['a', 's.b']}],
    ['SELECT * FROM a WHERE id = $1 FOR UPDATE', {access: 'locking-read', kind: 'select', tables: ['a']}],
    ['SELECT * FROM a FOR SHARE SKIP LOCKED', {access: 'locking-read', kind: 'select', tables: ['a']}],
    ['WITH w AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM w', {access: 'write', kind: 'select', tables: []}],
    ['INSERT INTO t SELECT * FROM u', {access: 'write', kind: 'insert', tables: ['u'], written: 't'}],
    ['UPDATE s.t SET x = $1 WHERE id = $2', {access: 'write', kind: 'update', tables: [], written: 's.t'}],
    ['COPY t FROM STDIN', {access: 'write', kind: 'copy', tables: [], written: 't'}],
    ['COMMIT', {access: 'other', kind: 'TransactionStmt', tables: []}],
    // A CTE's name is not a table; a qualified name is, even when a CTE shares its last part.
    ['WITH c AS (SELECT 1) SELECT * FROM c, d, x.c', {access: 'read', kind: 'select', tables: ['d', 'x.c']}],
  ])('%s', (sql, expected) => {
    expect(statementAccess(sql)).toEqual(expected)
  })

  it('says nothing about text that does not parse, or holds several statements', () => {
    expect(statementAccess('SELEC 1')).toBeUndefined()
    expect(statementAccess('SELECT 1; SELECT 2')).toBeUndefined()
  })
})
