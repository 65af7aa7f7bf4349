import {errorMessage} from '../../core/errors.js'
import type {PgSession} from '../../drivers/postgres.js'
import type {CatalogFacts} from '../../knowledge/postgres/catalog.js'
import {indexDefinition, type Candidate} from './candidates.js'
import {explainStatement, type PlannableStatement} from '../../knowledge/postgres/plan.js'

export interface WhatIfCost {
  cost: number
  /** Candidate ids whose hypothetical index appears in the plan. */
  used: string[]
}

/**
 * Costs statements under hypothetical index configurations with hypopg. hypopg keeps its indexes in the
 * session's memory, not in the catalog, so nothing is written and the read-only session is enough: on
 * PostgreSQL 15 hypopg_create_index runs inside a read-only transaction (tested), and no SET LOCAL
 * transaction_read_only = off is needed. The session's hypothetical set is changed incrementally (drop what
 * leaves, create what joins) and each (statement, relevant configuration) is planned once and memoized.
 */
export class WhatIf {
  calls = 0
  memoHits = 0
  private readonly active = new Map<string, number>()
  private readonly memo = new Map<string, WhatIfCost>()

  constructor(
    private readonly session: PgSession,
    private readonly statements: Array<PlannableStatement | undefined>,
    private readonly tablesOf: string[][],
    private readonly catalog: CatalogFacts,
    readonly maxCalls = 20_000,
  ) {}

  static async available(session: PgSession): Promise<boolean> {
    return session.hasExtension('hypopg')
  }

  get exhausted(): boolean {
    return this.calls >= this.maxCalls
  }

  /** hypopg's size estimate of each candidate; candidates hypopg rejects are returned with the reason. */
  async measure(candidates: Candidate[]): Promise<Map<string, string>> {
    await this.reset()
    const rejected = new Map<string, string>()
    const BATCH = 200
    for (let i = 0; i < candidates.length; i += BATCH) {
      const batch = candidates.slice(i, i + BATCH)
      const defs = batch.map((c) => indexDefinition(c, this.catalog))
      try {
        const rows = await this.session.query(
          'SELECT c.ord::int AS ord, hypopg_relation_size(h.indexrelid)::float8 AS size FROM unnest($1::text[]) WITH ORDINALITY c(def, ord), LATERAL hypopg_create_index(c.def) h',
          [defs])
        for (const r of rows) batch[r.ord - 1].estimatedBytes = Number(r.size)
      } catch {
        for (const [j, c] of batch.entries()) {
          try {
            const [r] = await this.session.query('SELECT hypopg_relation_size(indexrelid)::float8 AS size FROM hypopg_create_index($1)', [defs[j]])
            c.estimatedBytes = Number(r.size)
          } catch (error) {
            rejected.set(c.id, errorMessage(error).split('\n')[0])
          }
        }
      }
      await this.reset()
    }
    return rejected
  }

  async reset(): Promise<void> {
    await this.session.query('SELECT hypopg_reset()')
    this.active.clear()
  }

  private async sync(desired: Candidate[]): Promise<void> {
    const want = new Set(desired.map((c) => c.id))
    const drop = [...this.active].filter(([id]) => !want.has(id))
    if (drop.length > 0) {
      await this.session.query('SELECT hypopg_drop_index(o) FROM unnest($1::oid[]) o', [drop.map(([, oid]) => oid)])
      for (const [id] of drop) this.active.delete(id)
    }
    const create = desired.filter((c) => !this.active.has(c.id))
    if (create.length > 0) {
      const rows = await this.session.query(
        'SELECT c.ord::int AS ord, h.indexrelid::int AS oid FROM unnest($1::text[]) WITH ORDINALITY c(def, ord), LATERAL hypopg_create_index(c.def) h',
        [create.map((c) => indexDefinition(c, this.catalog))])
      for (const r of rows) this.active.set(create[r.ord - 1].id, r.oid)
    }
  }

  /** The statement's plan cost with exactly `config` (restricted to its tables) as hypothetical indexes. */
  async cost(statement: number, config: Candidate[]): Promise<WhatIfCost> {
    const tables = this.tablesOf[statement]
    const relevant = config.filter((c) => tables.includes(c.table))
    const key = `${statement}|${relevant.map((c) => c.id).sort().join('\u0001')}`
    const hit = this.memo.get(key)
    if (hit) {
      this.memoHits++
      return hit
    }
    const stmt = this.statements[statement]
    if (!stmt) throw new Error(`statement ${statement} cannot be planned`)
    await this.sync(relevant)
    this.calls++
    const {plan, cost} = await explainStatement(this.session, stmt)
    const byOid = new Map([...this.active].map(([id, oid]) => [oid, id]))
    const used: string[] = []
    walkPlan(plan, (node) => {
      const name = node['Index Name']
      const m = typeof name === 'string' && name.startsWith('<') ? Number(name.slice(1, name.indexOf('>'))) : NaN
      const id = byOid.get(m)
      if (id && !used.includes(id)) used.push(id)
    })
    const result = {cost, used}
    this.memo.set(key, result)
    return result
  }
}

export function walkPlan(plan: Record<string, any>, visit: (node: Record<string, any>, parent?: Record<string, any>) => void, parent?: Record<string, any>): void {
  visit(plan, parent)
  for (const child of plan.Plans ?? []) walkPlan(child, visit, plan)
}
