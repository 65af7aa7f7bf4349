/**
 * EXPLAIN FORMAT=JSON of MySQL 8 and MariaDB 10.6+, read into one shape: the table accesses of the plan with their
 * access type, key, rows examined and conditions, and whether it sorts (filesort) or builds a temporary table.
 *
 * The flavours write different trees. Both have query_block, nested_loop arrays and table objects with table_name,
 * access_type, possible_keys, key, used_key_parts, attached_condition, index_condition and using_index. Then:
 *  - MariaDB (recorded from 10.11): rows and a numeric filtered on each table; sorting is a `filesort` node (with
 *    sort_key, under `read_sorted_file` when rows are read back sorted) and a temporary table a `temporary_table`
 *    node, both wrapping what they read; "No tables used" and "Impossible WHERE" are a table with a `message`.
 *  - MySQL (from the manual, "EXPLAIN Output Format" and "Extended EXPLAIN Output Format"; not run here):
 *    rows_examined_per_scan and rows_produced_per_join, filtered as a string, cost_info with query_cost; sorting
 *    and grouping are ordering_operation / grouping_operation / duplicates_removal objects with using_filesort
 *    and using_temporary_table flags; a `message` sits on the query_block itself.
 * Derived tables, unions and subqueries nest query_blocks (materialized_from_subquery, materialized,
 * query_specifications, attached_subqueries, subqueries): every one is walked.
 */

export type AccessType = 'system' | 'const' | 'eq_ref' | 'ref' | 'fulltext' | 'ref_or_null' | 'index_merge' | 'unique_subquery'
  | 'index_subquery' | 'range' | 'index' | 'ALL' | 'hash_ALL' | 'hash_range' | 'hash_index' | string

export interface TableAccess {
  /** The table as the plan names it: its alias when the statement gave one; <derivedN>, <unionM,N>, <subqueryN> for intermediates. */
  table: string
  accessType: AccessType
  /** ALL (or MariaDB's hash join over a full scan, hash_ALL): every row of a base table is read. */
  fullScan: boolean
  /** An index read from end to end (access type index): cheaper than ALL, still every entry. */
  fullIndexScan: boolean
  /** <derived…>, <union…>, <subquery…>: an intermediate result, which no index on a base table serves. */
  intermediate: boolean
  key: string | null
  possibleKeys: string[]
  usedKeyParts: string[]
  /** The optimizer's estimate of rows read per scan of this table (MariaDB rows, MySQL rows_examined_per_scan). */
  rowsExamined: number | null
  /** Percentage of examined rows that pass the table's condition. */
  filtered: number | null
  /** Index-only: every column needed is in the index (Using index). */
  usingIndex: boolean
  attachedCondition: string | null
  indexCondition: string | null
  /** The access sits under a sort (filesort) or a temporary table of its query block. */
  filesort: boolean
  temporary: boolean
  selectId: number | null
}

export interface ExplainSummary {
  flavour: 'mysql' | 'mariadb'
  accesses: TableAccess[]
  /** Base tables read in full (ALL). */
  fullScans: TableAccess[]
  usingFilesort: boolean
  usingTemporary: boolean
  /** "No tables used", "Impossible WHERE", ... when the plan reads no table. */
  messages: string[]
  /** MySQL cost_info.query_cost of the outermost block; MariaDB 11's query_block cost; null when absent (MariaDB 10). */
  cost: number | null
}

type Node = Record<string, unknown>
const isNode = (v: unknown): v is Node => !!v && typeof v === 'object' && !Array.isArray(v)
const numberOf = (v: unknown): number | null => (v === undefined || v === null || v === '' || !Number.isFinite(Number(v)) ? null : Number(v))
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : [])

/** MySQL's grouping objects carry their sort and temporary flags; MariaDB wraps what it sorts in a node. */
const SORT_WRAPPERS = new Set(['filesort', 'read_sorted_file'])
const TEMP_WRAPPERS = new Set(['temporary_table'])

/** The flavour a plan came from, by the fields only one of them writes. */
export function explainFlavour(plan: unknown): 'mysql' | 'mariadb' {
  let mysql = false
  const walk = (v: unknown): void => {
    if (mysql) return
    if (Array.isArray(v)) v.forEach(walk)
    else if (isNode(v)) {
      if ('rows_examined_per_scan' in v || 'cost_info' in v || 'using_filesort' in v || 'using_temporary_table' in v) mysql = true
      Object.values(v).forEach(walk)
    }
  }
  walk(plan)
  return mysql ? 'mysql' : 'mariadb'
}

/**
 * Reads an EXPLAIN FORMAT=JSON document (parsed, or the text the server returns). Throws with one line when the text
 * is not such a plan.
 */
export function parseExplain(input: unknown, flavour?: 'mysql' | 'mariadb'): ExplainSummary {
  let plan = input
  if (typeof input === 'string') {
    try {
      plan = JSON.parse(input)
    } catch {
      throw new Error('EXPLAIN FORMAT=JSON output is not JSON')
    }
  }
  if (!isNode(plan) || !isNode(plan.query_block)) throw new Error('EXPLAIN FORMAT=JSON output has no query_block')
  const summary: ExplainSummary = {
    flavour: flavour ?? explainFlavour(plan), accesses: [], fullScans: [], usingFilesort: false, usingTemporary: false, messages: [],
    cost: numberOf((plan.query_block.cost_info as Node | undefined)?.query_cost) ?? numberOf(plan.query_block.cost),
  }

  const walk = (v: unknown, ctx: {filesort: boolean; temporary: boolean; selectId: number | null}, key?: string): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(x, ctx, key)
      return
    }
    if (!isNode(v)) return
    const here = {
      filesort: ctx.filesort || (key !== undefined && SORT_WRAPPERS.has(key)) || v.using_filesort === true,
      // Materializing a derived table (MySQL's materialized_from_subquery) is not the "Using temporary" of a sort or GROUP BY.
      temporary: ctx.temporary || (key !== undefined && TEMP_WRAPPERS.has(key)) || (v.using_temporary_table === true && key !== 'materialized_from_subquery'),
      selectId: numberOf(v.select_id) ?? ctx.selectId,
    }
    if (here.filesort) summary.usingFilesort = true
    if (here.temporary) summary.usingTemporary = true
    if (typeof v.message === 'string' && !('table_name' in v)) summary.messages.push(v.message)
    if (key === 'table' && typeof v.table_name === 'string' && typeof v.access_type === 'string') {
      const name = v.table_name
      const accessType = v.access_type
      // MariaDB names intermediates <derived2>; MySQL gives a derived table its alias and the subquery beside it.
      const intermediate = name.startsWith('<') || 'materialized_from_subquery' in v || 'materialized' in v
      const access: TableAccess = {
        table: name, accessType, fullScan: (accessType === 'ALL' || accessType === 'hash_ALL') && !intermediate,
        fullIndexScan: accessType === 'index' || accessType === 'hash_index', intermediate,
        key: typeof v.key === 'string' ? v.key : null, possibleKeys: strings(v.possible_keys), usedKeyParts: strings(v.used_key_parts),
        rowsExamined: numberOf(v.rows_examined_per_scan) ?? numberOf(v.rows), filtered: numberOf(v.filtered),
        usingIndex: v.using_index === true, attachedCondition: typeof v.attached_condition === 'string' ? v.attached_condition : null,
        indexCondition: typeof v.index_condition === 'string' ? v.index_condition : null,
        filesort: here.filesort, temporary: here.temporary, selectId: here.selectId,
      }
      summary.accesses.push(access)
      if (access.fullScan) summary.fullScans.push(access)
    }
    // A subquery or derived table inside a table (or an operation) is its own query block: its sorting is its own.
    for (const [k, child] of Object.entries(v)) {
      const fresh = k === 'materialized_from_subquery' || k === 'materialized' || k === 'query_specifications' || k === 'attached_subqueries'
        || k === 'subqueries' || k === 'optimized_away_subqueries' || k === 'query_block'
      walk(child, fresh && k !== 'query_block' ? {filesort: false, temporary: false, selectId: here.selectId} : here, k)
    }
  }
  walk(plan.query_block, {filesort: false, temporary: false, selectId: null}, 'query_block')
  return summary
}
