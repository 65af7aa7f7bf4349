import {describe, expect, it} from 'vitest'
import {parseQueriesText} from '../../../src/knowledge/postgres/workload.js'

describe('parseQueriesText', () => {
  it('splits statements with the parser and reads weight comments', async () => {
    const text = `-- weight: 50
SELECT * FROM orders WHERE customer_id = $1;

/* not a weight */
-- weight: 2.5
UPDATE "My Table" SET note = 'a;b' WHERE id = $1;
SELECT 'é' AS x; SELECT 2`
    const out = await parseQueriesText(text)
    expect(out).toEqual([
      {sql: 'SELECT * FROM orders WHERE customer_id = $1', weight: 50},
      {sql: `UPDATE "My Table" SET note = 'a;b' WHERE id = $1`, weight: 2.5},
      {sql: `SELECT 'é' AS x`},
      {sql: 'SELECT 2'},
    ])
  })

  it('rejects text that does not parse', async () => {
    await expect(parseQueriesText('SELEC 1', 'f.sql')).rejects.toThrow(/f.sql: not valid SQL/)
  })
})
