/**
 * The MySQL/MariaDB catalog as the index-health and index-advice code reads it: indexes from
 * information_schema.STATISTICS rows and tables from information_schema.TABLES rows, plain data so that a probe only
 * selects the rows and hands them over. Rows are taken as the server returns them (upper-case column names, numbers
 * as numbers from mysql2 or as strings from the command-line client).
 */

/** One row of information_schema.STATISTICS (EXPRESSION and IS_VISIBLE on MySQL 8, IGNORED on MariaDB 10.6+). */
export interface StatisticsRow {
  TABLE_SCHEMA: string
  TABLE_NAME: string
  NON_UNIQUE: number | string
  INDEX_NAME: string
  SEQ_IN_INDEX: number | string
  /** NULL for a functional key part (MySQL 8.0.13+), whose text is in EXPRESSION. */
  COLUMN_NAME: string | null
  /** 'A' ascending, 'D' descending (MySQL 8), NULL when the index is not sorted (HASH, FULLTEXT). */
  COLLATION?: string | null
  /** Indexed prefix length in characters (bytes for binary columns), NULL for the whole column. */
  SUB_PART?: number | string | null
  /** 'YES' when the column may hold NULL, '' when NOT NULL. */
  NULLABLE?: string | null
  INDEX_TYPE: string
  EXPRESSION?: string | null
  /** MySQL 8: 'NO' for an invisible index. */
  IS_VISIBLE?: string | null
  /** MariaDB 10.6+: 'YES' for an ignored index. */
  IGNORED?: string | null
}

/** One row of information_schema.TABLES (base tables only). */
export interface TableRow {
  TABLE_SCHEMA: string
  TABLE_NAME: string
  ENGINE: string | null
  TABLE_ROWS?: number | string | null
  DATA_LENGTH?: number | string | null
  INDEX_LENGTH?: number | string | null
}

export interface IndexColumn {
  /** The column, or null for a functional key part. */
  name: string | null
  /** The functional key part's expression (MySQL 8), as the server prints it. */
  expression?: string
  /** Prefix length, or null for the whole column. */
  subPart: number | null
  desc: boolean
  nullable: boolean
}

export interface MysqlIndex {
  schema: string
  table: string
  name: string
  primary: boolean
  unique: boolean
  /** BTREE, HASH, FULLTEXT, SPATIAL (RTREE on some versions). */
  type: string
  columns: IndexColumn[]
  /** False for a MySQL invisible or MariaDB ignored index: the optimizer does not use it. */
  visible: boolean
}

export interface MysqlTable {
  schema: string
  table: string
  engine: string
  rows: number
  dataBytes: number
  indexBytes: number
}

const num = (v: unknown): number => (v === null || v === undefined || v === '' ? 0 : Number(v))

/** The key of a table in maps: db and name joined by a character neither can hold. */
export const tableKey = (schema: string, table: string): string => `${schema}\u0000${table}`

/**
 * Indexes from STATISTICS rows, in the order the server lists them (which, for InnoDB, is the order it keeps them:
 * PRIMARY first, then unique indexes, each group in definition order), key parts by SEQ_IN_INDEX.
 */
export function indexesFromStatistics(rows: readonly StatisticsRow[]): MysqlIndex[] {
  const byKey = new Map<string, {index: MysqlIndex; parts: Array<[number, IndexColumn]>}>()
  for (const r of rows) {
    const key = `${tableKey(r.TABLE_SCHEMA, r.TABLE_NAME)}\u0000${r.INDEX_NAME}`
    let entry = byKey.get(key)
    if (!entry) {
      entry = {
        index: {
          schema: r.TABLE_SCHEMA, table: r.TABLE_NAME, name: r.INDEX_NAME, primary: r.INDEX_NAME === 'PRIMARY',
          unique: num(r.NON_UNIQUE) === 0, type: String(r.INDEX_TYPE ?? 'BTREE').toUpperCase(), columns: [],
          visible: String(r.IS_VISIBLE ?? 'YES').toUpperCase() !== 'NO' && String(r.IGNORED ?? 'NO').toUpperCase() !== 'YES',
        },
        parts: [],
      }
      byKey.set(key, entry)
    }
    entry.parts.push([num(r.SEQ_IN_INDEX), {
      name: r.COLUMN_NAME ?? null,
      ...(r.COLUMN_NAME === null && r.EXPRESSION ? {expression: r.EXPRESSION} : {}),
      subPart: r.SUB_PART === null || r.SUB_PART === undefined || r.SUB_PART === '' ? null : Number(r.SUB_PART),
      desc: String(r.COLLATION ?? '').toUpperCase() === 'D',
      nullable: String(r.NULLABLE ?? '').toUpperCase() === 'YES',
    }])
  }
  return [...byKey.values()].map(({index, parts}) => ({...index, columns: parts.sort((a, b) => a[0] - b[0]).map(([, c]) => c)}))
}

export function tablesFromRows(rows: readonly TableRow[]): MysqlTable[] {
  return rows.map((r) => ({
    schema: r.TABLE_SCHEMA, table: r.TABLE_NAME, engine: r.ENGINE ?? '', rows: num(r.TABLE_ROWS), dataBytes: num(r.DATA_LENGTH), indexBytes: num(r.INDEX_LENGTH),
  }))
}

export const isInnodb = (engine: string | undefined): boolean => /^innodb$/i.test(engine ?? '')

/**
 * The index InnoDB clusters the table on: the PRIMARY KEY, or without one the first UNIQUE index whose key parts
 * are all NOT NULL whole columns (MySQL manual, "Clustered and Secondary Indexes"; the server promotes such an
 * index to the primary key, a prefix or functional key part excludes it). Undefined when neither exists: InnoDB
 * then clusters on a hidden 6-byte row id (DB_ROW_ID) that no query can use.
 */
export function clusteredIndex(indexes: readonly MysqlIndex[]): MysqlIndex | undefined {
  return indexes.find((i) => i.primary)
    ?? indexes.find((i) => i.unique && i.type === 'BTREE' && i.columns.every((c) => c.name !== null && !c.nullable && c.subPart === null))
}

/** One key part as written in CREATE INDEX: `col`, `col`(10), (expr), with DESC. */
export function keyPartSql(c: IndexColumn, quote: (name: string) => string): string {
  const base = c.name === null ? `(${c.expression ?? ''})` : `${quote(c.name)}${c.subPart !== null ? `(${c.subPart})` : ''}`
  return c.desc ? `${base} DESC` : base
}

/** How a key part reads in a message: a(10), b DESC. */
export function keyPartText(c: IndexColumn): string {
  return `${c.name ?? `(${c.expression ?? ''})`}${c.subPart !== null ? `(${c.subPart})` : ''}${c.desc ? ' DESC' : ''}`
}
