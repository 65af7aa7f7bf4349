import type {Probe} from '../../core/probe.js'
import {quoteQualified} from '../../core/sql.js'
import type {Metric} from '../../core/types.js'
import type {PgSession} from '../../drivers/postgres.js'
import {intOption} from './skip.js'

/**
 * postgres.indexes: the user index catalog of the connected database, read set-based (at most 4 round trips
 * whatever the number of indexes), and the indexes that cost writes and space for nothing:
 *  - unused: idx_scan = 0 and not unique, primary or backing a constraint; judged only on statistics old enough
 *    (the rule's `when: statsAgeSeconds`), since a zero means nothing on counters that started an hour ago;
 *  - duplicate: PgHero's rule: same table, method, expressions and predicate, and its key columns (with their
 *    operator classes, collations and sort options) a prefix of another valid index's;
 *  - invalid: indisvalid = false and no CREATE INDEX CONCURRENTLY running for it (a failed build's leftover).
 *
 * How old are the scan counts? pg_stat_database.stats_reset is stamped by pg_stat_reset() and by resetting any of
 * the database's tables' counters, so when it is set it is exact. It is NULL when the database's counters were never
 * reset: they then started when the database was created, or when the server last discarded its statistics (after
 * a crash, an immediate shutdown or a restore; a clean restart keeps them since PostgreSQL 15). We take the later of
 * the database directory's PG_VERSION file time (written by CREATE DATABASE, never touched after; needs EXECUTE on
 * pg_stat_file, which superusers and pg_read_server_files have) and pg_stat_bgwriter.stats_reset (stamped when the
 * server discards its statistics). Both err towards younger statistics, never older. pg_postmaster_start_time() is
 * not used: it overstates the age of a database created after the start and understates it after a clean restart.
 * Without pg_stat_file the age is unknown (null) and no unused index is proposed for dropping.
 *
 * Bounded output: at most `indexesFlaggedLimit` (default 100) indexes of each kind are listed and become metrics,
 * the largest first; `notShown` counts the rest. On a database of 20,000 tables with two never-scanned indexes each,
 * listing them all made 40,000 metrics (40 MB in the snapshot, most of the audit's time and memory) for a report no
 * one reads to the end: the largest hundred are where the space is, and dropping them shows the next ones.
 */

export interface IndexRow {
  schema: string
  table: string
  name: string
  method: string
  /** Key then INCLUDE column names; null for an expression position. */
  columns: Array<string | null>
  /** relpages x block_size (as of the last VACUUM, ANALYZE or CREATE INDEX); exact (pg_relation_size) for flagged indexes. */
  sizeBytes: number
  scans: number
  unique: boolean
  primary: boolean
  backsConstraint: boolean
  valid: boolean
  ready: boolean
  partial: boolean
  expression: boolean
}

export interface FlaggedIndex {
  index: string
  table: string
  reason: string
  sizeBytes: number
  scans: number
  definition: string
  dropSql: string
}

export interface IndexesData {
  database: string
  role: 'primary' | 'standby'
  statsSince: string | null
  statsSinceSource: string
  statsAgeSeconds: number | null
  replicaCount: number
  indexCount: number
  totalBytes: number
  unused: FlaggedIndex[]
  duplicate: Array<FlaggedIndex & {duplicateOf: string}>
  invalid: FlaggedIndex[]
  /** The cap on each of unused, duplicate and invalid (indexesFlaggedLimit). */
  flaggedLimit: number
  /** Flagged indexes of each kind past the cap: found, but neither listed nor reported. */
  notShown: {unused: number; duplicate: number; invalid: number}
  /** Compact rows, largest first (the index advisor checks suggestions against these); capped by indexesDataLimit. */
  indexes: IndexRow[]
  indexesTruncated: boolean
}

interface CatalogRow extends IndexRow {
  definition: string
  oid: number
  tableOid: number
  keyCount: number
  /** Attribute numbers, operator classes, collations and sort options of every indexed position. */
  attnums: number[]
  opclasses: string[]
  collations: string[]
  options: string[]
  expressionsText: string | null
  predicateText: string | null
  building: boolean
  /** Shares table, method, expressions, predicate and first key column with another index (see the catalog query). */
  paired: boolean
}

const DEFAULT_DATA_LIMIT = 5000
const DEFAULT_FLAGGED_LIMIT = 100

function splitVector(text: string | null): string[] {
  return text ? text.trim().split(/\s+/).filter(Boolean) : []
}

/** Whether `a`'s key columns are a prefix of `b`'s key columns (PgHero's "covers"), position by position. */
function keyPrefixOf(a: CatalogRow, b: CatalogRow): boolean {
  if (a.keyCount > b.keyCount) return false
  for (let i = 0; i < a.keyCount; i++) {
    if (a.attnums[i] !== b.attnums[i] || a.opclasses[i] !== b.opclasses[i] || a.collations[i] !== b.collations[i] || a.options[i] !== b.options[i]) return false
  }
  // A multicolumn index only serves its leading column like a single-column one for btree; elsewhere require equality.
  if (a.method !== 'btree' && a.keyCount !== b.keyCount) return false
  // INCLUDE columns of the redundant one must be available in the other for the same index-only scans.
  const bColumns = new Set(b.attnums)
  return a.attnums.slice(a.keyCount).every((n) => bColumns.has(n))
}

/** The index that makes `index` redundant, if any (never a reason to drop a unique, primary or constraint index). */
function coveringIndex(index: CatalogRow, sameTable: CatalogRow[]): CatalogRow | undefined {
  if (!index.valid || index.unique || index.primary || index.backsConstraint) return undefined
  const candidates = sameTable.filter((other) => {
    if (other.oid === index.oid || !other.valid || !other.ready) return false
    if (other.method !== index.method || other.expressionsText !== index.expressionsText || other.predicateText !== index.predicateText) return false
    if (!keyPrefixOf(index, other)) return false
    const identical = index.keyCount === other.keyCount && index.attnums.length === other.attnums.length
    // Two identical indexes: keep the unique/constraint one, else the first by name, so exactly one is dropped.
    return !identical || other.unique || other.primary || other.backsConstraint || index.name > other.name
  })
  // Name the closest cover: the narrowest, and among equals a primary/unique/constraint index (it cannot go away).
  const rank = (i: CatalogRow) => i.attnums.length * 2 + (i.primary || i.unique || i.backsConstraint ? 0 : 1)
  return candidates.sort((x, y) => rank(x) - rank(y) || x.name.localeCompare(y.name))[0]
}

export const indexesProbe: Probe<PgSession> = {
  id: 'postgres.indexes',
  kind: 'postgres',
  description: 'Unused, duplicate and invalid indexes, with the age of the statistics the scan counts are judged on',

  async collect(pg, ctx) {
    const [facts] = await pg.query(
      `SELECT current_database() AS database, pg_is_in_recovery() AS standby,
              d.stats_reset AS db_reset, (SELECT stats_reset FROM pg_stat_bgwriter) AS server_reset,
              (SELECT count(*) FROM pg_stat_replication)::int AS replicas,
              has_function_privilege('pg_catalog.pg_stat_file(text, boolean)', 'EXECUTE') AS can_stat_file,
              regexp_replace(pg_relation_filepath('pg_catalog.pg_class'), '/[^/]+$', '') || '/PG_VERSION' AS version_file,
              now() AS now
         FROM pg_stat_database d WHERE d.datname = current_database()`)
    let statsSince: Date | null = facts.db_reset ?? null
    let statsSinceSource = 'pg_stat_database.stats_reset'
    if (!statsSince) {
      if (facts.can_stat_file) {
        const [file] = await pg.query('SELECT (pg_stat_file($1, true)).modification AS created', [facts.version_file])
        const created: Date | null = file?.created ?? null
        const serverReset: Date | null = facts.server_reset ?? null
        if (created && serverReset && serverReset > created) {
          statsSince = serverReset
          statsSinceSource = 'server statistics discarded (pg_stat_bgwriter.stats_reset)'
        } else {
          statsSince = created
          statsSinceSource = 'database created (PG_VERSION file time)'
        }
      } else {
        statsSinceSource = 'unknown: the database statistics were never reset and pg_stat_file is not permitted (GRANT pg_read_server_files, or run pg_stat_reset() to start a known window)'
      }
    }
    const now: Date = facts.now
    const statsAgeSeconds = statsSince ? Math.max(0, Math.round((now.getTime() - statsSince.getTime()) / 1000)) : null

    const dataLimit = intOption(ctx.options, 'indexesDataLimit', DEFAULT_DATA_LIMIT)
    const flaggedLimit = intOption(ctx.options, 'indexesFlaggedLimit', DEFAULT_FLAGGED_LIMIT)
    // Every index is looked at on the server, but only these come back: the largest (data.indexes), the invalid, those
    // that share table, method, expressions, predicate and first key column with another (only they can cover or be
    // covered: the duplicate check below needs them all), and the largest unused ones among the rest. With totals, so
    // that a database of 60,000 indexes sends thousands of rows, not 60,000.
    const rows = await pg.query(
      `WITH idx AS (
         SELECT i.indexrelid, i.indrelid, n.nspname AS schema, t.relname AS "table", c.relname AS name, am.amname AS method,
                c.relpages::int8 * current_setting('block_size')::int8 AS size,
                pg_stat_get_numscans(i.indexrelid) AS scans, i.indisunique AS is_unique, i.indisprimary AS is_primary,
                i.indexrelid IN (SELECT k.conindid FROM pg_constraint k) AS backs_constraint,
                i.indisvalid AS valid, i.indisready AS ready, i.indnkeyatts AS key_count, i.indkey, i.indclass, i.indcollation, i.indoption,
                pg_get_expr(i.indexprs, i.indrelid) AS expressions, pg_get_expr(i.indpred, i.indrelid) AS predicate
           FROM pg_index i
           -- IN (SELECT ...) above runs each subquery once, hashed, instead of once per index; the scan count is
           -- pg_stat_user_indexes' own function, per index, instead of a join that builds the whole view.
           JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_class t ON t.oid = i.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
           JOIN pg_am am ON am.oid = c.relam
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
            AND NOT pg_is_other_temp_schema(n.oid)
       ), ranked AS (
         SELECT idx.*,
                count(*) OVER (PARTITION BY indrelid, method, expressions, predicate, indkey[0]) > 1 AS paired,
                row_number() OVER (ORDER BY size DESC, schema, name) AS size_rank,
                count(*) OVER () AS index_count, sum(size) OVER () AS total_size
           FROM idx
       ), lone AS (
         SELECT ranked.*, valid AND scans = 0 AND NOT is_unique AND NOT is_primary AND NOT backs_constraint AND NOT paired AS lone_unused
           FROM ranked
       ), chosen AS (
         SELECT lone.*, row_number() OVER (PARTITION BY lone_unused ORDER BY size DESC, schema, name) AS lone_rank,
                count(*) FILTER (WHERE lone_unused) OVER () AS lone_unused_count
           FROM lone
       )
       SELECT indexrelid::int8 AS oid, indrelid::int8 AS table_oid, schema, "table", name, method, size, scans,
              is_unique AS unique, is_primary AS primary, backs_constraint, valid, ready, key_count,
              indkey::text AS attnums, indclass::text AS opclasses, indcollation::text AS collations, indoption::text AS options,
              expressions, predicate, paired,
              ARRAY(SELECT a.attname FROM unnest(indkey) WITH ORDINALITY k(attnum, ord)
                      LEFT JOIN pg_attribute a ON a.attrelid = indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
              indexrelid IN (SELECT p.index_relid FROM pg_stat_progress_create_index p) AS building,
              index_count, total_size, lone_unused_count
         FROM chosen
        WHERE NOT valid OR paired OR size_rank <= $1 OR (lone_unused AND lone_rank <= $2)
        ORDER BY size DESC, schema, name`, [dataLimit, flaggedLimit])

    const catalog: CatalogRow[] = rows.map((r) => ({
      oid: Number(r.oid),
      tableOid: Number(r.table_oid),
      schema: r.schema,
      table: r.table,
      name: r.name,
      method: r.method,
      definition: '',
      columns: r.columns,
      sizeBytes: Number(r.size),
      scans: Number(r.scans),
      unique: r.unique,
      primary: r.primary,
      backsConstraint: r.backs_constraint,
      valid: r.valid,
      ready: r.ready,
      partial: r.predicate !== null,
      expression: r.expressions !== null,
      keyCount: Number(r.key_count),
      attnums: splitVector(r.attnums).map(Number),
      opclasses: splitVector(r.opclasses),
      collations: splitVector(r.collations),
      options: splitVector(r.options),
      expressionsText: r.expressions,
      predicateText: r.predicate,
      building: r.building,
      paired: r.paired,
    }))
    const indexCount = Number(rows[0]?.index_count ?? 0)
    const loneUnused = Number(rows[0]?.lone_unused_count ?? 0)

    const onStandby = Boolean(facts.standby)
    const replicaCount = Number(facts.replicas ?? 0)
    // Each node counts only its own scans: a zero here says nothing about reads served by the other nodes.
    const checkReplicas = onStandby || replicaCount > 0
    const nodeNote = onStandby
      ? 'counted on this standby only: the primary and other standbys count their own scans'
      : replicaCount > 0 ? `counted on this primary only: its ${replicaCount} standby(s) count their own scans` : 'counted on this server (no standbys attached)'

    // Only indexes of the same table, method, expressions and predicate can cover each other: compare within those
    // groups (a handful of rows each), so the check stays linear in the number of indexes.
    const groups = new Map<string, CatalogRow[]>()
    const groupKey = (row: CatalogRow) => `${row.tableOid}\u0000${row.method}\u0000${row.expressionsText ?? ''}\u0000${row.predicateText ?? '\u0001'}`
    for (const row of catalog) {
      const key = groupKey(row)
      const group = groups.get(key)
      if (group) group.push(row)
      else groups.set(key, [row])
    }

    const flag = (row: CatalogRow, reason: string): FlaggedIndex => ({
      index: quoteQualified(row.schema, row.name),
      table: quoteQualified(row.schema, row.table),
      reason,
      sizeBytes: row.sizeBytes,
      scans: row.scans,
      definition: row.definition,
      dropSql: `DROP INDEX CONCURRENTLY ${quoteQualified(row.schema, row.name)};`,
    })
    const common = (row: CatalogRow) => ({
      schema: row.schema, tableName: row.table, indexName: row.name, definition: row.definition, sizeBytes: row.sizeBytes, scans: row.scans,
      onStandby, checkReplicas, replicaCount, scansCountedOn: nodeNote,
    })

    // Classify on the catalog alone, then fetch definitions and exact sizes for the flagged indexes (and their covers)
    // only: pg_relation_size and pg_get_indexdef open every index they touch, which on a fresh connection to a
    // database with thousands of indexes costs more than the rest of the probe.
    const verdicts: Array<{row: CatalogRow; kind: 'invalid' | 'duplicate' | 'unused'; covering?: CatalogRow}> = []
    for (const row of catalog) {
      if (!row.valid) {
        if (!row.building) verdicts.push({row, kind: 'invalid'})
        continue
      }
      const covering = coveringIndex(row, groups.get(groupKey(row)) ?? [])
      if (covering) verdicts.push({row, kind: 'duplicate', covering})
      else if (row.scans === 0 && !row.unique && !row.primary && !row.backsConstraint) verdicts.push({row, kind: 'unused'})
    }
    // The catalog is ordered by size, so each kind keeps its largest; the rest are only counted.
    const shown = {unused: 0, duplicate: 0, invalid: 0}
    const notShown = {unused: 0, duplicate: 0, invalid: 0}
    const listed = verdicts.filter((v) => {
      if (shown[v.kind] >= flaggedLimit) {
        notShown[v.kind]++
        return false
      }
      shown[v.kind]++
      return true
    })
    // Unused indexes that pair with no other were counted on the server; only the largest of them came back.
    notShown.unused = verdicts.filter((v) => v.kind === 'unused' && v.row.paired).length + loneUnused - shown.unused
    const detailed = new Map<number, CatalogRow>()
    for (const v of listed) {
      detailed.set(v.row.oid, v.row)
      if (v.covering) detailed.set(v.covering.oid, v.covering)
    }
    let exactSizeCorrection = 0
    if (detailed.size > 0) {
      const details = await pg.query(
        'SELECT x.oid::int8 AS oid, pg_get_indexdef(x.oid) AS definition, pg_relation_size(x.oid) AS size FROM unnest($1::oid[]) x(oid)',
        [[...detailed.keys()]])
      for (const d of details) {
        const row = detailed.get(Number(d.oid))
        if (!row) continue
        row.definition = d.definition ?? ''
        exactSizeCorrection += Number(d.size ?? row.sizeBytes) - row.sizeBytes
        row.sizeBytes = Number(d.size ?? row.sizeBytes)
      }
    }

    const metrics: Metric[] = []
    const unused: FlaggedIndex[] = []
    const duplicate: IndexesData['duplicate'] = []
    const invalid: FlaggedIndex[] = []
    for (const {row, kind, covering} of listed) {
      if (kind === 'invalid') {
        const f = flag(row, 'invalid')
        invalid.push(f)
        // pg_get_indexdef names the index unqualified-by-schema but the table qualified; CONCURRENTLY keeps writes going.
        const recreateSql = `${row.definition.replace(/^CREATE (UNIQUE )?INDEX /, 'CREATE $1INDEX CONCURRENTLY ')};`
        metrics.push({name: 'postgres.index.invalid', value: 1, subject: f.index, evidence: {...common(row), ...f, recreateSql}})
      } else if (kind === 'duplicate' && covering) {
        const duplicateOf = quoteQualified(covering.schema, covering.name)
        const f = {...flag(row, `duplicate of ${duplicateOf}`), duplicateOf}
        duplicate.push(f)
        metrics.push({name: 'db.index.duplicate_bytes', value: row.sizeBytes, subject: f.index,
          evidence: {...common(row), ...f, duplicateOfDefinition: covering.definition}})
      } else {
        const f = flag(row, 'unused')
        unused.push(f)
        metrics.push({name: 'db.index.unused_bytes', value: row.sizeBytes, subject: f.index,
          evidence: {...common(row), ...f, statsAgeSeconds, statsSince: statsSince?.toISOString() ?? null, statsSinceSource}})
      }
    }

    const data: IndexesData = {
      database: facts.database,
      role: onStandby ? 'standby' : 'primary',
      statsSince: statsSince?.toISOString() ?? null,
      statsSinceSource,
      statsAgeSeconds,
      replicaCount,
      indexCount,
      totalBytes: Number(rows[0]?.total_size ?? 0) + exactSizeCorrection,
      unused,
      duplicate,
      invalid,
      flaggedLimit,
      notShown,
      indexes: catalog.slice(0, dataLimit).map((r) => ({
        schema: r.schema, table: r.table, name: r.name, method: r.method, columns: r.columns,
        sizeBytes: r.sizeBytes, scans: r.scans, unique: r.unique, primary: r.primary, backsConstraint: r.backsConstraint,
        valid: r.valid, ready: r.ready, partial: r.partial, expression: r.expression,
      })),
      indexesTruncated: indexCount > dataLimit,
    }
    // Indexes with no scans on counts of unknown age are neither judged nor listed: say so rather than nothing.
    const unjudged = statsAgeSeconds === null ? unused.length + notShown.unused : 0
    const notRead = unjudged > 0
      ? [{what: 'unused indexes not judged', missing: unjudged, reason: `no scans, but the age of the scan counts is ${statsSinceSource}`}]
      : undefined
    return {data, metrics, notRead}
  },
}
