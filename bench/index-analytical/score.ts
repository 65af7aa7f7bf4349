/**
 * The independent scorer of the analytical benchmark. It knows nothing of chokepoint's advisor (imports none of
 * it): given index definitions (CREATE INDEX statements), it creates them as hypopg hypothetical indexes in its own
 * session, plans each workload query with plain EXPLAIN (FORMAT JSON), and reads the root node's Total Cost.
 * Nothing is executed and nothing is built; the session's hypothetical set is reset before and after.
 *
 * Summaries (summarise): the cost of the workload weighted by each query's calls (the headline: the workload as
 * pg_stat_statements saw it), the plain sum of the queries' costs, and the mean of the per-query ratios (each
 * query counts the same, however expensive), each as a ratio to the baseline (no hypothetical index).
 */
import type pg from 'pg'

export interface ScoredQuery {
  id: string
  sql: string
  calls: number
}

export interface QueryCost {
  id: string
  calls: number
  cost: number
}

export interface Summary {
  weightedCost: number
  unweightedCost: number
  /** Headline: Σ calls × cost / the same for the baseline. */
  weightedRatio: number
  unweightedRatio: number
  /** Mean over queries of cost / baseline cost. */
  meanQueryRatio: number
}

/** Sums a set's per-query costs and compares them with the baseline's (matched by query id). */
export function summarise(costs: QueryCost[], baseline: QueryCost[]): Summary {
  const base = new Map(baseline.map((q) => [q.id, q]))
  let weighted = 0
  let unweighted = 0
  let baseWeighted = 0
  let baseUnweighted = 0
  let ratios = 0
  for (const q of costs) {
    const b = base.get(q.id)
    if (!b) throw new Error(`summarise: query ${q.id} has no baseline cost`)
    weighted += q.calls * q.cost
    unweighted += q.cost
    baseWeighted += b.calls * b.cost
    baseUnweighted += b.cost
    ratios += b.cost > 0 ? q.cost / b.cost : 1
  }
  if (costs.length !== baseline.length) throw new Error(`summarise: ${costs.length} costs for ${baseline.length} baseline queries`)
  return {
    weightedCost: weighted, unweightedCost: unweighted,
    weightedRatio: baseWeighted > 0 ? weighted / baseWeighted : 1,
    unweightedRatio: baseUnweighted > 0 ? unweighted / baseUnweighted : 1,
    meanQueryRatio: costs.length > 0 ? ratios / costs.length : 1,
  }
}

/** The root Total Cost of an EXPLAIN (FORMAT JSON) result. */
export function rootCost(explain: unknown): number {
  const doc = Array.isArray(explain) ? explain[0] : explain
  const cost = (doc as {Plan?: {'Total Cost'?: unknown}} | undefined)?.Plan?.['Total Cost']
  if (typeof cost !== 'number') throw new Error('EXPLAIN (FORMAT JSON) output without a root Total Cost')
  return cost
}

export interface ScoredIndex {
  ddl: string
  bytes: number
}

export interface Score {
  costs: QueryCost[]
  indexes: ScoredIndex[]
  /** Definitions hypopg refused, with its error. */
  rejected: Array<{ddl: string; error: string}>
  bytes: number
}

export class Scorer {
  constructor(private readonly client: pg.Client, private readonly queries: ScoredQuery[]) {}

  /** Once per session: the scorer's EXPLAINs are not workload. */
  async init(): Promise<void> {
    await this.client.query('SET pg_stat_statements.track = none')
    await this.client.query('SELECT hypopg_reset()')
  }

  private async create(defs: string[]): Promise<Pick<Score, 'indexes' | 'rejected'>> {
    const indexes: ScoredIndex[] = []
    const rejected: Score['rejected'] = []
    for (const ddl of defs) {
      try {
        const {rows} = await this.client.query<{bytes: string}>('SELECT hypopg_relation_size(indexrelid)::bigint AS bytes FROM hypopg_create_index($1)', [ddl])
        indexes.push({ddl, bytes: Number(rows[0].bytes)})
      } catch (error) {
        rejected.push({ddl, error: (error as Error).message})
      }
    }
    return {indexes, rejected}
  }

  /** hypopg's size estimate of each definition alone (undefined when hypopg refuses it). */
  async sizes(defs: string[]): Promise<Array<number | undefined>> {
    const out: Array<number | undefined> = []
    for (const ddl of defs) {
      const {indexes} = await this.create([ddl])
      out.push(indexes[0]?.bytes)
      await this.client.query('SELECT hypopg_reset()')
    }
    return out
  }

  /** Plans one query (by index in the workload) under the hypothetical set currently in the session. */
  async costOf(i: number): Promise<number> {
    const {rows} = await this.client.query<{'QUERY PLAN': unknown}>(`EXPLAIN (FORMAT JSON) ${this.queries[i].sql}`)
    return rootCost(rows[0]['QUERY PLAN'])
  }

  /** Costs of the given queries (all by default) with `defs` as hypothetical indexes. */
  async score(defs: string[], only?: number[]): Promise<Score> {
    await this.client.query('SELECT hypopg_reset()')
    try {
      const {indexes, rejected} = await this.create(defs)
      const costs: QueryCost[] = []
      for (const i of only ?? this.queries.map((_, i) => i)) costs.push({id: this.queries[i].id, calls: this.queries[i].calls, cost: await this.costOf(i)})
      return {costs, indexes, rejected, bytes: indexes.reduce((a, x) => a + x.bytes, 0)}
    } finally {
      await this.client.query('SELECT hypopg_reset()')
    }
  }
}
