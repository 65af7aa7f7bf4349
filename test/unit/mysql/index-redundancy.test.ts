import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {indexesFromStatistics, type MysqlIndex, type StatisticsRow} from '../../../src/knowledge/mysql/catalog.js'
import {findRedundantIndexes, redundancyDdl} from '../../../src/knowledge/mysql/index-redundancy.js'

/**
 * Indexes written like SHOW CREATE TABLE keys: 'PRIMARY KEY (id)', 'UNIQUE KEY u (a, b)', 'KEY k (a(10), b DESC)',
 * 'FULLTEXT KEY f (note)'. Columns are NOT NULL unless suffixed with '?'.
 */
function table(keys: string[], name = 't', schema = 'db'): MysqlIndex[] {
  const rows: StatisticsRow[] = []
  for (const k of keys) {
    const m = /^(PRIMARY KEY|UNIQUE KEY (\S+)|KEY (\S+)|FULLTEXT KEY (\S+)|HASH KEY (\S+)) \((.*)\)$/.exec(k)
    if (!m) throw new Error(`bad key ${k}`)
    const indexName = m[1] === 'PRIMARY KEY' ? 'PRIMARY' : (m[2] ?? m[3] ?? m[4] ?? m[5])
    const type = m[4] ? 'FULLTEXT' : m[5] ? 'HASH' : 'BTREE'
    m[6].split(',').map((s) => s.trim()).forEach((part, i) => {
      const p = /^(\w+)(\?)?(?:\((\d+)\))?( DESC)?$/.exec(part)!
      rows.push({TABLE_SCHEMA: schema, TABLE_NAME: name, NON_UNIQUE: m[1] === 'PRIMARY KEY' || m[2] ? 0 : 1, INDEX_NAME: indexName, SEQ_IN_INDEX: i + 1,
        COLUMN_NAME: p[1], SUB_PART: p[3] ?? null, COLLATION: type === 'BTREE' ? (p[4] ? 'D' : 'A') : null, NULLABLE: p[2] ? 'YES' : '', INDEX_TYPE: type})
    })
  }
  return indexesFromStatistics(rows)
}

const innodb = (schema = 'db', name = 't') => ({engines: new Map([[`${schema}\u0000${name}`, 'InnoDB']])})
const found = (keys: string[], options: Parameters<typeof findRedundantIndexes>[1] = innodb()) =>
  findRedundantIndexes(table(keys), options).map((r) => `${r.index.name} ${r.kind} ${r.coveredBy.name}`)

describe('findRedundantIndexes: pt-duplicate-key-checker rules', () => {
  it('a leftmost prefix of another index is redundant; the wider one stays', () => {
    expect(found(['PRIMARY KEY (id)', 'KEY a (a)', 'KEY ab (a, b)'])).toEqual(['a prefix ab'])
  })

  it('two identical indexes: one is dropped, the first by name stays', () => {
    expect(found(['PRIMARY KEY (id)', 'KEY k2 (a, b)', 'KEY k1 (a, b)'])).toEqual(['k2 exact k1'])
  })

  it('a chain of prefixes points at the widest survivor, never at a dropped index', () => {
    const r = found(['PRIMARY KEY (id)', 'KEY a (a)', 'KEY ab (a, b)', 'KEY abc (a, b, c)'])
    expect(r.sort()).toEqual(['a prefix abc', 'ab prefix abc'])
  })

  it('not a prefix: other order, other column, or only a common prefix', () => {
    expect(found(['PRIMARY KEY (id)', 'KEY ab (a, b)', 'KEY ba (b, a)', 'KEY ac (a, c)'])).toEqual([])
  })

  it('pt bug 894140: UNIQUE on the PK column duplicates the PRIMARY KEY; a KEY duplicates a UNIQUE', () => {
    // t/lib/samples/dupekeys/dupe-cluster-bug-894140.sql
    const r = found(['PRIMARY KEY (row_id)', 'UNIQUE KEY row_id (row_id)', 'UNIQUE KEY player_id (player_id?)', 'KEY player_id_2 (player_id?)'])
    expect(r.sort()).toEqual(['player_id_2 exact player_id', 'row_id exact PRIMARY'])
  })

  it('a single-column UNIQUE is never dropped for a wider index: PRIMARY KEY (a, b) and UNIQUE (a) both stay', () => {
    expect(found(['PRIMARY KEY (a, b)', 'UNIQUE KEY ua (a)'])).toEqual([])
    expect(found(['PRIMARY KEY (id)', 'UNIQUE KEY ua (a)', 'KEY ab (a, b)'])).toEqual([])
  })

  it('a UNIQUE is never dropped for a non-unique index, even a wider one', () => {
    expect(found(['PRIMARY KEY (id)', 'UNIQUE KEY uab (a, b)', 'KEY abc (a, b, c)'])).toEqual([])
  })

  it('a non-unique index is dropped for a UNIQUE that starts with it', () => {
    expect(found(['PRIMARY KEY (id)', 'UNIQUE KEY uab (a, b)', 'KEY a (a)'])).toEqual(['a prefix uab'])
  })

  it('uniqueness ignored: UNIQUE (a, b) with a unique on its own is treated as a plain index', () => {
    const r = findRedundantIndexes(table(['PRIMARY KEY (id)', 'UNIQUE KEY ua (a)', 'UNIQUE KEY uab (a, b)', 'KEY abc (a, b, c)']), innodb())
    expect(r.map((x) => `${x.index.name} ${x.kind} ${x.coveredBy.name}`)).toEqual(['uab prefix abc'])
    expect(r[0].uniquenessImpliedBy?.name).toBe('ua')
    expect(r[0].reason).toMatch(/uniqueness is already enforced by ua/)
  })

  it('two identical UNIQUE indexes: one goes (pt compares no unique index with another)', () => {
    expect(found(['PRIMARY KEY (id)', 'UNIQUE KEY u1 (a, b)', 'UNIQUE KEY u2 (a, b)'])).toEqual(['u2 exact u1'])
    // The one that makes the column unique first (the server's order) is kept, whatever the names.
    expect(found(['PRIMARY KEY (id)', 'UNIQUE KEY z (a)', 'UNIQUE KEY b (a)'])).toEqual(['b exact z'])
  })

  it('prefix lengths and directions are part of the key: a(10) is not a, ASC is not DESC', () => {
    expect(found(['PRIMARY KEY (id)', 'KEY a (a)', 'KEY a10b (a(10), b)'])).toEqual([])
    expect(found(['PRIMARY KEY (id)', 'KEY a10 (a(10))', 'KEY a10b (a(10), b)'])).toEqual(['a10 prefix a10b'])
    expect(found(['PRIMARY KEY (id)', 'KEY a (a DESC)', 'KEY ab (a, b)'])).toEqual([])
  })

  it('FULLTEXT only duplicates FULLTEXT, exactly, in any column order; never a BTREE', () => {
    expect(found(['PRIMARY KEY (id)', 'FULLTEXT KEY f1 (a, b)', 'FULLTEXT KEY f2 (b, a)'])).toEqual(['f2 exact f1'])
    expect(found(['PRIMARY KEY (id)', 'FULLTEXT KEY f1 (a)', 'FULLTEXT KEY f2 (a, b)'])).toEqual([])
    expect(found(['PRIMARY KEY (id)', 'FULLTEXT KEY f (a)', 'KEY a (a)'])).toEqual([])
  })

  it('HASH indexes serve no prefix lookups: only exact duplicates', () => {
    expect(found(['PRIMARY KEY (id)', 'HASH KEY h1 (a)', 'HASH KEY h2 (a, b)'])).toEqual([])
    expect(found(['PRIMARY KEY (id)', 'HASH KEY h1 (a, b)', 'HASH KEY h2 (a, b)'])).toEqual(['h2 exact h1'])
  })

  it('an invisible or ignored index is never the one that serves the lookups instead', () => {
    const indexes = table(['PRIMARY KEY (id)', 'KEY a (a)', 'KEY ab (a, b)'])
    indexes.find((i) => i.name === 'ab')!.visible = false
    expect(findRedundantIndexes(indexes, innodb())).toEqual([])
  })

  describe('clustered (pt --clustered): the InnoDB primary key suffix', () => {
    it('pt bug 1214114: KEY b (b, id) with PRIMARY KEY (id) is KEY (b)', () => {
      // t/lib/samples/dupekeys/prefix_bug_1214114.sql
      const r = findRedundantIndexes(table(['PRIMARY KEY (id)', 'KEY b (b, id)']), innodb())
      expect(r.map((x) => [x.index.name, x.kind, x.shortened?.map((c) => c.name)])).toEqual([['b', 'clustered', ['b']]])
      const ddl = redundancyDdl(r[0], 'InnoDB')
      expect(ddl.sql).toBe('ALTER TABLE `db`.`t` DROP INDEX `b`, ADD INDEX `b` (`b`), ALGORITHM=INPLACE, LOCK=NONE;')
      expect(ddl.rollbackSql).toBe('ALTER TABLE `db`.`t` DROP INDEX `b`, ADD INDEX `b` (`b`, `id`), ALGORITHM=INPLACE, LOCK=NONE;')
    })

    it('a tail that is a leftmost prefix of a composite primary key counts; a tail that is not does not', () => {
      expect(found(['PRIMARY KEY (a, b)', 'KEY ca (c, a)'])).toEqual(['ca clustered PRIMARY'])
      expect(found(['PRIMARY KEY (a, b)', 'KEY cab (c, a, b)'])).toEqual(['cab clustered PRIMARY'])
      expect(found(['PRIMARY KEY (a, b)', 'KEY cb (c, b)'])).toEqual([])
      // InnoDB appends only the primary key columns a key lacks: (c, b) is stored as (c, b, a).
      expect(found(['PRIMARY KEY (a, b)', 'KEY cba (c, b, a)'])).toEqual(['cba clustered PRIMARY'])
    })

    it('only for InnoDB, and not when the optimizer ignores the suffix (extended_keys off)', () => {
      expect(found(['PRIMARY KEY (id)', 'KEY b (b, id)'], {engines: new Map([['db\u0000t', 'MyISAM']])})).toEqual([])
      expect(found(['PRIMARY KEY (id)', 'KEY b (b, id)'], {...innodb(), extendedKeys: false})).toEqual([])
      expect(found(['PRIMARY KEY (id)', 'KEY b (b, id)'], {...innodb(), clustered: false})).toEqual([])
    })

    it('a UNIQUE over the whole primary key becomes a plain index; over part of it, it stays', () => {
      const r = findRedundantIndexes(table(['PRIMARY KEY (a, b)', 'UNIQUE KEY uc (c, a, b)']), innodb())
      expect(redundancyDdl(r[0], 'InnoDB').sql).toBe('ALTER TABLE `db`.`t` DROP INDEX `uc`, ADD INDEX `uc` (`c`), ALGORITHM=INPLACE, LOCK=NONE;')
      expect(redundancyDdl(r[0], 'InnoDB').rollbackSql).toContain('ADD UNIQUE INDEX `uc` (`c`, `a`, `b`)')
      expect(found(['PRIMARY KEY (a, b)', 'UNIQUE KEY uca (c, a)'])).toEqual([])
    })

    it('without a primary key, InnoDB clusters on the first UNIQUE NOT NULL index: it is the primary one', () => {
      expect(found(['UNIQUE KEY ua (a)', 'KEY ba (b, a)', 'KEY a2 (a)'])).toEqual(['ba clustered ua', 'a2 exact ua'])
      // A nullable unique index is no clustered key: then nothing clusters but a hidden row id.
      expect(found(['UNIQUE KEY ua (a?)', 'KEY ba (b, a?)'])).toEqual([])
    })
  })

  it('DDL: drop online with the CREATE INDEX that puts it back, every name quoted; no online clause off InnoDB', () => {
    const [r] = findRedundantIndexes(table(['PRIMARY KEY (id)', 'KEY a (a(10))', 'KEY ab (a(10), b DESC)'], 'my`t', 'my db'), innodb('my db', 'my`t'))
    expect(redundancyDdl(r, 'InnoDB')).toEqual({
      sql: 'ALTER TABLE `my db`.`my``t` DROP INDEX `a`, ALGORITHM=INPLACE, LOCK=NONE;',
      rollbackSql: 'CREATE INDEX `a` ON `my db`.`my``t` (`a`(10)) ALGORITHM=INPLACE LOCK=NONE;',
    })
    expect(redundancyDdl(r, 'MyISAM')).toEqual({sql: 'ALTER TABLE `my db`.`my``t` DROP INDEX `a`;', rollbackSql: 'CREATE INDEX `a` ON `my db`.`my``t` (`a`(10));'})
    const [f] = findRedundantIndexes(table(['PRIMARY KEY (id)', 'FULLTEXT KEY f1 (a)', 'FULLTEXT KEY f2 (a)']), innodb())
    // InnoDB builds a FULLTEXT index in place only under a shared lock.
    expect(redundancyDdl(f, 'InnoDB').rollbackSql).toBe('CREATE FULLTEXT INDEX `f2` ON `db`.`t` (`a`) ALGORITHM=INPLACE LOCK=SHARED;')
  })

  it('the MariaDB 10.11 fixture: the indexes planted in the scratch database are found', () => {
    const fixture = JSON.parse(readFileSync(new URL('fixtures/mariadb-10.11/statistics.json', import.meta.url), 'utf8')) as {rows: StatisticsRow[]}
    const engines = new Map(['customers', 'orders', 'events', 'logs'].map((t) => [`chokepoint_fixture_scratch\u0000${t}`, 'InnoDB']))
    const r = findRedundantIndexes(indexesFromStatistics(fixture.rows), {engines})
    expect(r.map((x) => `${x.index.table}.${x.index.name} ${x.kind} ${x.coveredBy.name}`).sort()).toEqual([
      'events.idx_b_a clustered uq_a',
      'orders.idx_customer prefix idx_customer_id',
      'orders.idx_customer_id clustered PRIMARY',
      'orders.idx_status prefix idx_status_created',
      'orders.idx_status_dup prefix idx_status_created',
    ])
  })
})
