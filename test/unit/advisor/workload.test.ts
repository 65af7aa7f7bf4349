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
      {sql: 'SELECT * FROM orders WHERE customer_id = $1', weight: 50, line: 2},
      {sql: `UPDATE "My Table" SET note = 'a;b' WHERE id = $1`, weight: 2.5, line: 6},
      {sql: `SELECT 'é' AS x`, line: 7},
      {sql: 'SELECT 2', line: 7},
    ])
  })

  it('gives each statement the line its first token is on, past comments and blank lines, after multi-byte text', async () => {
    const text = `SELECT 'ü€' AS a;\n\n\n-- weight: 3\n  /* note */\n  SELECT\n  2;\nSELECT 3`
    expect((await parseQueriesText(text)).map((s) => s.line)).toEqual([1, 6, 8])
  })

  it('rejects text that does not parse', async () => {
    await expect(parseQueriesText('SELEC 1', 'f.sql')).rejects.toThrow(/f.sql: not valid SQL/)
  })
})
