import {beforeAll, describe, expect, it} from 'vitest'
import {clip, safeQueryTextSync, safeQueryTexts, WITHHELD_TEXT} from '../../../src/knowledge/postgres/query-text.js'

const SECRET = 'S3cret-unit'
const safe = (sql: string) => safeQueryTextSync(sql)

describe('query texts made safe to print (libpg-query)', () => {
  beforeAll(async () => {
    await safeQueryTexts([])
  })

  it('normalises literals to $n, keeping the statement recognisable', () => {
    expect(safe(`SELECT pg_sleep(60), 'tok-${SECRET}' AS tok`)).toEqual({text: 'SELECT pg_sleep($1), $2 AS tok', treatment: 'normalised'})
    expect(safe(`SELECT * FROM t WHERE a = $1 AND b = '${SECRET}'`).text).toBe('SELECT * FROM t WHERE a = $1 AND b = $2')
    expect(safe(`SELECT interval '1 day', -5, 1.5e3, B'101', X'ff', E'${SECRET}\\n', U&'d\\0061t'`).text).toBe('SELECT interval $1, $2, $3, $4, $5, $6, $7')
    // Already normalised pg_stat_statements texts stay as they are.
    expect(safe('SELECT id FROM accounts WHERE email = $1 LIMIT $2').text).toBe('SELECT id FROM accounts WHERE email = $1 LIMIT $2')
  })

  it('keeps the numbers that are syntax: type modifiers and GROUP BY / ORDER BY positions', () => {
    expect(safe('SELECT a::numeric(10,2), count(*) FROM t GROUP BY 1 ORDER BY 2 DESC LIMIT 5').text)
      .toBe('SELECT a::numeric(10,2), count(*) FROM t GROUP BY 1 ORDER BY 2 DESC LIMIT $1')
  })

  it('drops comments, which carry tokens too, and folds the text onto one line', () => {
    expect(safe(`SELECT /* token=${SECRET} */ count(*)\n  FROM orders -- ${SECRET}\n WHERE id = 1`).text).toBe('SELECT count(*) FROM orders WHERE id = $1')
    expect(safe(`SELECT $1 /* ${SECRET} */ AS x`).text).toBe('SELECT $1 AS x')
  })

  it('replaces the literals normalize leaves in utility statements', () => {
    for (const sql of [
      `CREATE TABLE t2 AS SELECT '${SECRET}' AS c, 4111111111111111 AS card`,
      `PREPARE p AS SELECT '${SECRET}'`,
      `COMMENT ON TABLE t IS '${SECRET}'`,
      `SECURITY LABEL ON ROLE x IS '${SECRET}'`,
      `ALTER SYSTEM SET primary_conninfo = 'host=a password=${SECRET}'`,
      `DO $$BEGIN PERFORM '${SECRET}'; END$$`,
      `CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $body$SELECT '${SECRET}'$body$`,
      `SET app.token = '${SECRET}'`,
    ]) {
      const out = safe(sql)
      expect(out.text, sql).not.toContain(SECRET)
      expect(out.text, sql).not.toContain('4111')
      expect(out.treatment).toBe('normalised')
    }
    expect(safe(`DO $$BEGIN PERFORM '${SECRET}'; END$$`).text).toBe('DO $1')
  })

  it('redacts statements that carry credentials whole', () => {
    const cases: Array<[string, string]> = [
      [`ALTER ROLE app PASSWORD '${SECRET}'`, 'ALTER ROLE'],
      [`ALTER USER app WITH ENCRYPTED PASSWORD '${SECRET}' VALID UNTIL 'infinity'`, 'ALTER USER'],
      [`CREATE ROLE app LOGIN PASSWORD '${SECRET}'`, 'CREATE ROLE'],
      [`CREATE USER app PASSWORD '${SECRET}'`, 'CREATE USER'],
      [`SELECT dblink_connect('c', 'host=db user=app password=${SECRET}')`, 'SELECT'],
      [`SELECT * FROM dblink('host=db password=${SECRET}', 'SELECT 1') AS t(x int)`, 'SELECT'],
      [`CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'h', password '${SECRET}')`, 'CREATE SERVER'],
      [`CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password '${SECRET}')`, 'CREATE USER MAPPING FOR'],
      [`ALTER USER MAPPING FOR app SERVER s OPTIONS (SET password '${SECRET}')`, 'ALTER USER MAPPING FOR'],
      [`COPY t FROM PROGRAM 'curl -u app:${SECRET} https://x'`, 'COPY'],
      [`CREATE SUBSCRIPTION s CONNECTION 'host=a password=${SECRET}' PUBLICATION p`, 'CREATE SUBSCRIPTION'],
      [`BEGIN; ALTER ROLE app PASSWORD '${SECRET}'; COMMIT`, 'ALTER ROLE'],
    ]
    for (const [sql, keywords] of cases) {
      const out = safe(sql)
      expect(out.treatment, sql).toBe('redacted')
      expect(out.text, sql).toMatch(new RegExp(`^${keywords} … \\[redacted: .+\\]$`))
      expect(out.text).not.toContain(SECRET)
      // No name, host or user of the statement either: only its keywords.
      expect(out.text).not.toMatch(/\bapp\b|host=/)
    }
    // A role statement without a password is an ordinary statement.
    expect(safe('ALTER ROLE app CONNECTION LIMIT 5')).toEqual({text: 'ALTER ROLE app CONNECTION LIMIT $1', treatment: 'normalised'})
  })

  it('keeps of a text cut inside a literal what the scanner reads before the cut, literals replaced', () => {
    expect(safe(`SELECT pg_sleep(60), 'a${SECRET}' AS a, '${SECRET}-cut`)).toEqual({text: 'SELECT pg_sleep($1), $2 AS a, …', treatment: 'partial'})
    expect(safe(`SELECT 'é', x FROM t WHERE y = '${SECRET}`).text).toBe('SELECT $1, x FROM t WHERE y = …')
    expect(safe(`SELECT x FROM t /* ${SECRET}`).text).toBe('SELECT x FROM t …')
    expect(safe(`SELECT x FROM t WHERE y = $tag$${SECRET}`).text).toBe('SELECT x FROM t WHERE y = …')
    expect(safe(`SELECT x, "${SECRET}`).text).toBe('SELECT x, …')
    // Cut elsewhere: a syntax error, every token lexes.
    expect(safe(`SELECT x FROM t WHERE y = '${SECRET}' AND`)).toEqual({text: 'SELECT x FROM t WHERE y = $1 AND …', treatment: 'partial'})
    expect(safe(`'${SECRET}`)).toEqual({text: WITHHELD_TEXT, treatment: 'withheld'})
  })

  it('redacts a cut credential statement from its keywords alone', () => {
    for (const sql of [`ALTER ROLE app PASSWORD '${SECRET}`, `ALTER ROLE app WITH LOGIN PASSWORD '${SECRET}' VALID`,
      `CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password '${SECRET}`, `SELECT dblink_connect('host=a password=${SECRET}`,
      `COPY t TO PROGRAM 'gzip > /x' WITH (FORMAT '${SECRET}`, `SELECT 1; ALTER USER app PASSWORD '${SECRET}`]) {
      const out = safe(sql)
      expect(out.treatment, sql).toBe('redacted')
      expect(out.text).not.toContain(SECRET)
    }
    expect(safe(`SELECT 1; ALTER USER app PASSWORD '${SECRET}`).text).toBe('ALTER USER … [redacted: it sets a password]')
  })

  it('leaves what is not SQL or empty as it is', () => {
    expect(safe('<insufficient privilege>').text).toBe('<insufficient privilege>')
    expect(safe('').text).toBe('')
  })

  it('clips for display after making safe', () => {
    expect(clip('SELECT $1', 100)).toBe('SELECT $1')
    expect(clip('SELECT a, b, c FROM t', 10)).toBe('SELECT a,…')
  })
})
