import {describe, expect, it} from 'vitest'
import {CommandLog} from '../../../src/core/probe.js'
import {MysqlSession} from '../../../src/drivers/mysql.js'
import {maskLiterals} from '../../../src/probes/mysql/query-text.js'

const SECRET = 'sk_live_DriverPlanted'

describe('MysqlSession.query with logAs', () => {
  it('records the masked text and rewords the server error, which quotes the statement back', async () => {
    const seen: Array<{text: string; error?: string}> = []
    const log = new CommandLog('db', {command: (c) => seen.push({text: c.text, ...(c.error ? {error: c.error} : {})})})
    const conn = {query: async () => {
      throw Object.assign(new Error(`You have an error in your SQL syntax near '${SECRET}' at line 1`), {errno: 1064, sqlMessage: `You have an error in your SQL syntax near '${SECRET}' at line 1`})
    }, destroy() {}}
    const session = new MysqlSession(conn as never, log, 1000)
    const sql = `EXPLAIN FORMAT=JSON SELECT * FROM t WHERE token = '${SECRET}'`
    const failed = await session.query(sql, undefined, {text: maskLiterals(sql), scrub: maskLiterals}).then(() => undefined, (e: Error & {errno?: number}) => e)
    expect(failed?.message).toBe('You have an error in your SQL syntax near ? at line ?')
    expect(failed?.errno).toBe(1064)
    expect(JSON.stringify({seen, entry: log.toEntry()}).includes(SECRET)).toBe(false)
    expect(seen[0].text).toBe('EXPLAIN FORMAT=JSON SELECT * FROM t WHERE token = ?')
  })
})
