import type {CatalogFacts} from '../../knowledge/postgres/catalog.js'
import {totalPlanRows} from '../../knowledge/postgres/plan.js'

/** What a plain plan shows about a statement (no ANALYZE: every row count is the planner's estimate). */
export interface PlanEvidence {
  seqScans: Array<{table: string; filter?: string; estimatedRows: number; tableRows: number; filteredShare: number}>
  spillingSorts: Array<{sortKey: string[]; estimatedBytes: number; workMemBytes: number}>
  nestedLoopInnerSeqScans: Array<{table: string; tableRows: number}>
  /** pg_stat_statements rows per call vs the plan's top row estimate, when they differ tenfold. */
  misestimate?: {planRows: number; actualRowsPerCall: number}
}

export const LARGE_TABLE_ROWS = 10_000
export const SMALL_TABLE_ROWS = 1_000

function tableKey(node: Record<string, any>, catalog: CatalogFacts): string {
  const schema = node.Schema ?? Object.values(catalog.tables).find((t) => t.name === node['Relation Name'])?.schema ?? 'public'
  return `${schema}.${node['Relation Name']}`
}

export function planEvidence(plan: Record<string, any>, catalog: CatalogFacts, rowsPerCall?: number): PlanEvidence {
  const out: PlanEvidence = {seqScans: [], spillingSorts: [], nestedLoopInnerSeqScans: []}
  // Workers of the nearest Gather above: a parallel-aware scan's Plan Rows are per process, scaled to the total
  // before its selectivity is judged. Sorts stay per process: each worker sorts its share in its own work_mem.
  const visit = (node: Record<string, any>, parent: Record<string, any> | undefined, workers: number) => {
    const type = node['Node Type']
    const below = type === 'Gather' || type === 'Gather Merge' ? Number(node['Workers Planned'] ?? 0) : workers
    if (type === 'Seq Scan') {
      const key = tableKey(node, catalog)
      const rows = catalog.tables[key]?.rows ?? 0
      if (rows >= LARGE_TABLE_ROWS) {
        const estimatedRows = Math.round(totalPlanRows(node, workers))
        out.seqScans.push({table: key, filter: node.Filter, estimatedRows, tableRows: rows, filteredShare: rows ? 1 - Math.min(1, estimatedRows / rows) : 0})
      }
      if (parent?.['Node Type'] === 'Nested Loop' && parent.Plans?.[1] === node) out.nestedLoopInnerSeqScans.push({table: key, tableRows: rows})
    }
    if (type === 'Materialize' && parent?.['Node Type'] === 'Nested Loop' && node.Plans?.[0]?.['Node Type'] === 'Seq Scan') {
      const key = tableKey(node.Plans[0], catalog)
      out.nestedLoopInnerSeqScans.push({table: key, tableRows: catalog.tables[key]?.rows ?? 0})
    }
    if (type === 'Sort') {
      const input = node.Plans?.[0] ?? node
      const bytes = (input['Plan Rows'] ?? 0) * ((input['Plan Width'] ?? 0) + 24)
      if (bytes > catalog.settings.workMemBytes) out.spillingSorts.push({sortKey: node['Sort Key'] ?? [], estimatedBytes: bytes, workMemBytes: catalog.settings.workMemBytes})
    }
    for (const child of node.Plans ?? []) visit(child, node, below)
  }
  visit(plan, undefined, 0)
  const planRows = plan['Plan Rows']
  if (rowsPerCall !== undefined && planRows !== undefined && Math.max(rowsPerCall, 1) / Math.max(planRows, 1) >= 10 || (rowsPerCall !== undefined && Math.max(planRows, 1) / Math.max(rowsPerCall, 1) >= 10)) {
    out.misestimate = {planRows, actualRowsPerCall: rowsPerCall!}
  }
  return out
}

/** Whether the plan reads only through indexes (no sequential scan of a large table, no big sort). */
export function looksOptimal(e: PlanEvidence): boolean {
  return e.seqScans.length === 0 && e.spillingSorts.length === 0 && e.nestedLoopInnerSeqScans.length === 0
}

/** The reasons vocabulary (docs/index-advisor.md): a code for machines and a sentence for people. */
export type ReasonCode =
  | 'improved' | 'already-optimal' | 'below-min-improvement' | 'small-table' | 'write-heavy' | 'budget' | 'max-indexes'
  | 'no-candidate' | 'unplannable' | 'not-verified' | 'call-budget'

export interface Reason {
  code: ReasonCode
  text: string
}

export {percent} from '../../core/numbers.js'

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let v = bytes
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${Math.round(v * 10) / 10}${units[i]}`
}
