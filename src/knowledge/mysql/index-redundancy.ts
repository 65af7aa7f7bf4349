import {quoteMysqlIdent, quoteMysqlQualified} from '../../core/sql.js'
import {clusteredIndex, isInnodb, keyPartSql, keyPartText, tableKey, type IndexColumn, type MysqlIndex} from './catalog.js'

/**
 * Duplicate and redundant MySQL/MariaDB indexes, by the rules pt-duplicate-key-checker applies
 * (percona-toolkit lib/DuplicateKeyFinder.pm), from the catalog alone:
 *
 *  - The PRIMARY KEY (for an InnoDB table without one, the index InnoDB clusters on) is never the one dropped.
 *  - Only indexes of one type are compared. A BTREE index is redundant when its key parts are a leftmost prefix of
 *    another's (or equal to them): the wider index answers every lookup and sort the narrower does. HASH, FULLTEXT
 *    and SPATIAL indexes serve no prefix lookups, so only exact duplicates count among them (a FULLTEXT index's
 *    column order does not matter).
 *  - Key parts are compared position by position, prefix length and direction included. pt compares the column
 *    list as text, which reads KEY (a) as a prefix of KEY (a(10), b); an index on 10 characters of a cannot answer
 *    what an index on all of a does, so here it is not.
 *  - A UNIQUE index is dropped only for another that enforces at least as much: the PRIMARY KEY or a UNIQUE index
 *    over the same or fewer leading columns. A unique index over several columns one of which is unique on its own
 *    (by the PRIMARY KEY or a single-column UNIQUE) enforces nothing more, so pt treats it as an ordinary index
 *    ("uniqueness ignored"), and so does this. A single-column UNIQUE is never dropped for a wider index.
 *  - Exact duplicates among unique indexes are reported too (pt does not compare unique indexes with each other).
 *  - Clustered (pt's --clustered, on by default): InnoDB stores the primary key columns in every secondary index
 *    entry, and the optimizer uses them as key parts (MySQL use_index_extensions, MariaDB extended_keys; on by
 *    default in both). An index whose last key parts are a leftmost prefix of the primary key (pt's documented
 *    rule; its code checks the whole key), KEY (b, id) with PRIMARY KEY (id), is therefore the same as KEY (b): the
 *    remedy re-creates it without them (a UNIQUE one becomes a plain index, since its uniqueness follows from the
 *    primary key's). Not applied when `extendedKeys` is false.
 *  - An invisible (MySQL) or ignored (MariaDB) index is never named as the one that serves the lookups instead.
 */

export type RedundancyKind = 'exact' | 'prefix' | 'clustered'

export interface RedundantIndex {
  index: MysqlIndex
  /** The index that serves the same lookups (for 'clustered': the primary or clustered key). */
  coveredBy: MysqlIndex
  kind: RedundancyKind
  reason: string
  /** For 'clustered': the key parts the index keeps once the primary key's columns are taken off its end. */
  shortened?: IndexColumn[]
  /** pt's "uniqueness ignored": a unique index whose uniqueness a single unique column already enforces. */
  uniquenessImpliedBy?: MysqlIndex
}

export interface RedundancyOptions {
  /** pt's --clustered: an index ending with the primary key's columns is redundant with the rest of it (InnoDB). */
  clustered?: boolean
  /** The optimizer uses the implicit primary-key suffix (use_index_extensions / extended_keys); default true. */
  extendedKeys?: boolean
  /** Storage engine per table (tableKey): the clustered rule applies to InnoDB tables only. */
  engines?: Map<string, string>
}

const sameColumn = (a: IndexColumn, b: IndexColumn): boolean =>
  a.name === b.name && (a.name !== null || a.expression === b.expression) && a.subPart === b.subPart && a.desc === b.desc

const prefixTypes = new Set(['BTREE'])
const sortInsensitive = new Set(['FULLTEXT'])

const columnsText = (cols: IndexColumn[]): string => cols.map(keyPartText).join(', ')
export const indexText = (i: MysqlIndex): string =>
  `${i.primary ? 'PRIMARY KEY' : `${i.unique ? 'UNIQUE ' : ''}${i.type === 'FULLTEXT' || i.type === 'SPATIAL' ? `${i.type} ` : ''}KEY ${i.name}`} (${columnsText(i.columns)})`

/** Whether `narrow`'s key parts are a leftmost prefix of (or equal to) `wide`'s, by the rules of their type. */
function prefixOf(narrow: MysqlIndex, wide: MysqlIndex): false | 'exact' | 'prefix' {
  if (narrow.type !== wide.type || narrow.columns.length > wide.columns.length) return false
  const exact = narrow.columns.length === wide.columns.length
  if (!prefixTypes.has(narrow.type) && !exact) return false
  if (sortInsensitive.has(narrow.type)) {
    const key = (cols: IndexColumn[]) => cols.map(keyPartText).sort().join('\u0000')
    return key(narrow.columns) === key(wide.columns) ? 'exact' : false
  }
  return narrow.columns.every((c, i) => sameColumn(c, wide.columns[i])) ? (exact ? 'exact' : 'prefix') : false
}

/** A column unique on its own: the only key part, whole, of the primary key or of a unique index. */
function uniqueColumn(i: MysqlIndex): string | undefined {
  return (i.primary || i.unique) && i.columns.length === 1 && i.columns[0].name !== null && i.columns[0].subPart === null ? i.columns[0].name : undefined
}

/** The redundant indexes of one table's indexes (all of one table). */
function tableRedundancy(indexes: MysqlIndex[], options: RedundancyOptions): RedundantIndex[] {
  const clustered = clusteredIndex(indexes)
  const primary = clustered && (clustered.primary || isInnodb(options.engines?.get(tableKey(clustered.schema, clustered.table)))) ? clustered : undefined
  const others = indexes.filter((i) => i !== primary)

  // Columns unique on their own, and the first index making each so (later ones are exact duplicates of it).
  const uniqueBy = new Map<string, MysqlIndex>()
  for (const i of [...(primary ? [primary] : []), ...others]) {
    const col = uniqueColumn(i)
    if (col !== undefined && !uniqueBy.has(col)) uniqueBy.set(col, i)
  }
  const implied = new Map<MysqlIndex, MysqlIndex>()
  for (const i of others) {
    if (!i.unique || i.columns.length < 2) continue
    const by = i.columns.map((c) => (c.name !== null && c.subPart === null ? uniqueBy.get(c.name) : undefined)).find((x) => x && x !== i)
    if (by) implied.set(i, by)
  }
  const strictUnique = (i: MysqlIndex) => i.unique && !implied.has(i)

  const removed = new Map<MysqlIndex, RedundantIndex>()
  const survivors = () => indexes.filter((i) => !removed.has(i))
  // Wider first, so that a cover is never itself dropped afterwards; among equals the first by name is kept.
  const order = [...others].sort((a, b) => b.columns.length - a.columns.length || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  // A single-column UNIQUE that is the first to make its column unique: it goes only for an identical primary key.
  const guards = (i: MysqlIndex) => strictUnique(i) && uniqueColumn(i) !== undefined && uniqueBy.get(uniqueColumn(i)!) === i
  const rank = (i: MysqlIndex) => (i === primary ? 0 : guards(i) ? 1 : strictUnique(i) ? 2 : 3)
  for (const candidate of order) {
    const protectedUnique = guards(candidate)
    const covers = survivors().filter((other) => {
      if (other === candidate || !other.visible) return false
      const rel = prefixOf(candidate, other)
      if (!rel) return false
      // A constraint can only go for another that enforces at least as much.
      if (strictUnique(candidate)) {
        if (!(other === primary || strictUnique(other))) return false
        if (protectedUnique && !(rel === 'exact' && other === primary)) return false
      }
      if (rel === 'exact' && other !== primary) {
        // Of two identical indexes, keep the one that enforces more, then the first by name.
        if (rank(other) !== rank(candidate)) return rank(other) < rank(candidate)
        return other.name < candidate.name
      }
      return true
    })
    // Name the closest cover: the narrowest, the primary key among equals.
    const cover = covers.sort((a, b) => a.columns.length - b.columns.length || (a === primary ? -1 : b === primary ? 1 : 0) || (a.name < b.name ? -1 : 1))[0]
    if (!cover) continue
    const kind = prefixOf(candidate, cover) as 'exact' | 'prefix'
    const impliedBy = implied.get(candidate)
    removed.set(candidate, {
      index: candidate, coveredBy: cover, kind,
      reason: `${impliedBy ? `its uniqueness is already enforced by ${impliedBy.primary ? 'the PRIMARY KEY' : impliedBy.name}; ` : ''}${kind === 'exact' ? 'a duplicate of' : 'a left-prefix of'} ${indexText(cover)}`,
      ...(impliedBy ? {uniquenessImpliedBy: impliedBy} : {}),
    })
  }

  const innodb = isInnodb(options.engines?.get(tableKey(indexes[0].schema, indexes[0].table)))
  if (primary && innodb && options.clustered !== false && options.extendedKeys !== false) {
    const pk = primary.columns
    for (const candidate of others) {
      if (removed.has(candidate) || candidate.type !== 'BTREE' || candidate.columns.length < 2) continue
      // The longest tail that is a leftmost prefix of the primary key, whole ascending columns (what InnoDB appends).
      const samePart = (c: IndexColumn, p: IndexColumn) => c.name !== null && c.name === p.name && c.subPart === null && p.subPart === null && !c.desc && !p.desc
      let cut = 0
      for (let k = Math.min(pk.length, candidate.columns.length - 1); k >= 1 && cut === 0; k--) {
        if (candidate.columns.slice(candidate.columns.length - k).every((c, i) => samePart(c, pk[i]))) cut = k
      }
      // A UNIQUE index over part of the primary key enforces something of its own; over all of it, nothing.
      if (cut === 0 || (strictUnique(candidate) && cut < pk.length)) continue
      const shortened = candidate.columns.slice(0, candidate.columns.length - cut)
      removed.set(candidate, {
        index: candidate, coveredBy: primary, kind: 'clustered', shortened,
        reason: `ends with the leading column(s) of the ${primary.primary ? 'primary key' : `clustered index ${primary.name}`} (${columnsText(pk.slice(0, cut))}), which InnoDB appends to every secondary index in that order: the same as KEY (${columnsText(shortened)})`,
      })
    }
  }
  return [...removed.values()]
}

/** Redundant and duplicate indexes of every table in `indexes`, in the order of the input. */
export function findRedundantIndexes(indexes: readonly MysqlIndex[], options: RedundancyOptions = {}): RedundantIndex[] {
  const byTable = new Map<string, MysqlIndex[]>()
  for (const i of indexes) {
    const key = tableKey(i.schema, i.table)
    const list = byTable.get(key)
    if (list) list.push(i)
    else byTable.set(key, [i])
  }
  const found = new Map<MysqlIndex, RedundantIndex>()
  for (const list of byTable.values()) for (const r of tableRedundancy(list, {clustered: true, ...options})) found.set(r.index, r)
  return indexes.filter((i) => found.has(i)).map((i) => found.get(i)!)
}

/**
 * ALTER TABLE clauses for online DDL: InnoDB adds and drops secondary indexes in place without blocking writes,
 * except FULLTEXT and SPATIAL indexes, which it adds in place under a shared lock (MySQL manual, "Online DDL
 * Operations"). Other engines cannot alter in place: no clause then, and the table is copied under a lock.
 */
export function onlineOptions(innodb: boolean, adding: MysqlIndex | undefined): string[] {
  if (!innodb) return []
  return ['ALGORITHM=INPLACE', `LOCK=${adding && (adding.type === 'FULLTEXT' || adding.type === 'SPATIAL') ? 'SHARED' : 'NONE'}`]
}

/** The options as ALTER TABLE takes them: ", ALGORITHM=INPLACE, LOCK=NONE". */
const alterOptions = (innodb: boolean, adding: MysqlIndex | undefined) => onlineOptions(innodb, adding).map((o) => `, ${o}`).join('')

const indexKind = (i: MysqlIndex, unique: boolean) => (i.type === 'FULLTEXT' || i.type === 'SPATIAL' ? `${i.type} ` : unique ? 'UNIQUE ' : '')
const keyPartsSql = (columns: IndexColumn[]) => `(${columns.map((c) => keyPartSql(c, quoteMysqlIdent)).join(', ')})`

/** ADD [UNIQUE|FULLTEXT|SPATIAL] INDEX `name` (key parts) [USING HASH], as an ALTER TABLE clause. */
export function addIndexClause(i: MysqlIndex, columns: IndexColumn[] = i.columns, unique = i.unique): string {
  return `ADD ${indexKind(i, unique)}INDEX ${quoteMysqlIdent(i.name)} ${keyPartsSql(columns)}${i.type === 'HASH' ? ' USING HASH' : ''}`
}

/** CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX `name` ON `db`.`t` (key parts) [USING HASH] [ALGORITHM=INPLACE LOCK=...]; */
export function createIndexSql(i: MysqlIndex, engine: string | undefined): string {
  const online = onlineOptions(isInnodb(engine), i).map((o) => ` ${o}`).join('')
  return `CREATE ${indexKind(i, i.unique)}INDEX ${quoteMysqlIdent(i.name)} ON ${quoteMysqlQualified(i.schema, i.table)} ${keyPartsSql(i.columns)}${i.type === 'HASH' ? ' USING HASH' : ''}${online};`
}

export interface IndexDdl {
  /** What removes the redundancy: DROP INDEX, or for 'clustered' DROP and ADD of the shortened index in one statement. */
  sql: string
  /** What puts the index back as it was. */
  rollbackSql: string
}

/** The remedy and its rollback for one redundant index; every name quoted with backticks. */
export function redundancyDdl(r: RedundantIndex, engine: string | undefined): IndexDdl {
  const innodb = isInnodb(engine)
  const table = quoteMysqlQualified(r.index.schema, r.index.table)
  const drop = `DROP INDEX ${quoteMysqlIdent(r.index.name)}`
  const sql = r.kind === 'clustered' && r.shortened && r.shortened.length > 0
    ? `ALTER TABLE ${table} ${drop}, ${addIndexClause(r.index, r.shortened, false)}${alterOptions(innodb, r.index)};`
    : `ALTER TABLE ${table} ${drop}${alterOptions(innodb, undefined)};`
  const rollbackSql = r.kind === 'clustered'
    ? `ALTER TABLE ${table} ${drop}, ${addIndexClause(r.index)}${alterOptions(innodb, r.index)};`
    : createIndexSql(r.index, engine)
  return {sql, rollbackSql}
}
