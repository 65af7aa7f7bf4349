/**
 * Baseline: a per-query single-column advisor, independent of chokepoint's advisor (it imports none of it). For
 * each query, every column that appears in its WHERE or JOIN ... ON clauses (subqueries included; a view is read
 * through its definition, its output columns mapped to the base columns they select) is tried alone as a hypopg
 * btree index, and the one with the lowest planned cost is kept when it lowers the query's cost at all. The
 * budget is then filled by benefit per byte: each kept index's benefit is Σ calls × (base cost − cost) over the
 * queries that picked it, its size hypopg's estimate; indexes are taken in that order, skipping any that no
 * longer fit.
 */
import {loadModule, parseSync} from 'libpg-query'
import type pg from 'pg'
import type {Scorer} from './score.js'

type Node = Record<string, any>

export interface ColumnRef {
  table: string
  column: string
}

interface Relation {
  kind: string
  columns: Set<string>
  /** For a view: its output column -> the base column it selects. */
  viewColumns?: Map<string, ColumnRef[]>
  viewQuals?: ColumnRef[]
}

function walk(node: unknown, visit: (n: Node) => void): void {
  if (Array.isArray(node)) for (const x of node) walk(x, visit)
  else if (node && typeof node === 'object') {
    visit(node as Node)
    for (const v of Object.values(node)) walk(v, visit)
  }
}

function names(ref: Node): string[] {
  return (ref.fields ?? []).map((f: Node) => f.String?.sval).filter((s: unknown): s is string => typeof s === 'string')
}

/** The quals' columns and the select list of one statement, resolved against the catalog. */
function analyse(sql: string, catalog: Map<string, Relation>): {quals: ColumnRef[]; output: Map<string, ColumnRef[]>} {
  const tree = parseSync(sql)
  const aliases = new Map<string, string>()
  const tables = new Set<string>()
  walk(tree, (n) => {
    const rv = n.RangeVar as Node | undefined
    if (!rv || !catalog.has(rv.relname)) return
    tables.add(rv.relname)
    aliases.set(rv.alias?.aliasname ?? rv.relname, rv.relname)
  })
  const resolve = (ref: Node): ColumnRef[] => {
    const parts = names(ref)
    if (parts.length === 0) return []
    const column = parts[parts.length - 1]
    const owners = parts.length >= 2 ? [aliases.get(parts[parts.length - 2])].filter((t): t is string => !!t) : [...tables]
    const out: ColumnRef[] = []
    for (const t of owners) {
      const rel = catalog.get(t)!
      if (rel.viewColumns) out.push(...(rel.viewColumns.get(column) ?? []))
      else if (rel.columns.has(column)) out.push({table: t, column})
    }
    return out
  }
  const quals: ColumnRef[] = []
  const collect = (qual: unknown) => walk(qual, (n) => {
    if (n.ColumnRef) quals.push(...resolve(n.ColumnRef))
  })
  walk(tree, (n) => {
    if (n.SelectStmt?.whereClause) collect(n.SelectStmt.whereClause)
    if (n.JoinExpr?.quals) collect(n.JoinExpr.quals)
  })
  for (const t of tables) quals.push(...(catalog.get(t)!.viewQuals ?? []))
  const output = new Map<string, ColumnRef[]>()
  const top = (tree.stmts?.[0]?.stmt as Node | undefined)?.SelectStmt
  for (const target of top?.targetList ?? []) {
    const rt = target.ResTarget as Node
    if (!rt?.val?.ColumnRef) continue
    const name = rt.name ?? names(rt.val.ColumnRef).at(-1)
    if (name) output.set(name, resolve(rt.val.ColumnRef))
  }
  return {quals, output}
}

/** The public schema's tables and views, views read through their definitions. */
export async function loadCatalog(client: pg.Client): Promise<Map<string, Relation>> {
  await loadModule()
  const {rows} = await client.query<{relname: string; relkind: string; columns: string[]; viewdef: string | null}>(`
    SELECT c.relname, c.relkind, array_agg(a.attname::text ORDER BY a.attnum) AS columns,
           CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END AS viewdef
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
    GROUP BY c.relname, c.relkind, c.oid`)
  const catalog = new Map<string, Relation>()
  for (const r of rows) if (r.relkind !== 'v') catalog.set(r.relname, {kind: r.relkind, columns: new Set(r.columns)})
  for (const r of rows) {
    if (r.relkind !== 'v' || !r.viewdef) continue
    const {quals, output} = analyse(r.viewdef, catalog)
    catalog.set(r.relname, {kind: 'v', columns: new Set(r.columns), viewColumns: output, viewQuals: quals})
  }
  return catalog
}

/** The distinct base-table columns a query's quals and joins use. */
export function candidateColumns(sql: string, catalog: Map<string, Relation>): ColumnRef[] {
  const seen = new Map<string, ColumnRef>()
  for (const c of analyse(sql, catalog).quals) if (catalog.get(c.table)?.kind !== 'v') seen.set(`${c.table}.${c.column}`, c)
  return [...seen.values()]
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`
export const singleColumnDdl = (c: ColumnRef) => `CREATE INDEX ON "public".${ident(c.table)} USING btree (${ident(c.column)})`

export interface SingleColumnPick {
  query: string
  ddl: string
  baseCost: number
  cost: number
}

export interface SingleColumnPlan {
  picks: SingleColumnPick[]
  /** Distinct picked indexes with benefit and size, best benefit per byte first. */
  ranked: Array<{ddl: string; benefit: number; bytes: number}>
  explains: number
}

/** Runs the per-query search once; `fill` then applies any budget. */
export async function planSingleColumn(scorer: Scorer, queries: Array<{id: string; sql: string; calls: number}>, catalog: Map<string, Relation>, baseCosts: number[]): Promise<SingleColumnPlan> {
  const picks: SingleColumnPick[] = []
  let explains = 0
  for (const [i, q] of queries.entries()) {
    let best: SingleColumnPick | undefined
    for (const c of candidateColumns(q.sql, catalog)) {
      const ddl = singleColumnDdl(c)
      const {costs} = await scorer.score([ddl], [i])
      explains++
      if (costs[0].cost < baseCosts[i] && (!best || costs[0].cost < best.cost)) best = {query: q.id, ddl, baseCost: baseCosts[i], cost: costs[0].cost}
    }
    if (best) picks.push(best)
  }
  const benefit = new Map<string, number>()
  for (const p of picks) {
    const calls = queries.find((q) => q.id === p.query)!.calls
    benefit.set(p.ddl, (benefit.get(p.ddl) ?? 0) + calls * (p.baseCost - p.cost))
  }
  const defs = [...benefit.keys()]
  const sizes = await scorer.sizes(defs)
  const ranked = defs.map((ddl, i) => ({ddl, benefit: benefit.get(ddl)!, bytes: sizes[i] ?? Number.POSITIVE_INFINITY}))
    .sort((a, b) => b.benefit / b.bytes - a.benefit / a.bytes)
  return {picks, ranked, explains}
}

/** Takes ranked indexes in order while they fit the budget (undefined: no limit), skipping those that do not. */
export function fill(ranked: Array<{ddl: string; bytes: number}>, budgetBytes: number | undefined): string[] {
  const out: string[] = []
  let used = 0
  for (const r of ranked) {
    if (!Number.isFinite(r.bytes)) continue
    if (budgetBytes !== undefined && used + r.bytes > budgetBytes) continue
    used += r.bytes
    out.push(r.ddl)
  }
  return out
}
