/** The PgBouncer readings other parts consume, typed once here (probe ids and data shapes). */
import {readingKey} from '../core/readings.js'
import type {PgBouncerPool} from '../probes/pgbouncer/pools.js'

export type {PgBouncerPool} from '../probes/pgbouncer/pools.js'

export interface PgBouncerPoolsData {
  pools: PgBouncerPool[]
  config?: {maxClientConn?: number}
}

export const poolsReading = readingKey<PgBouncerPoolsData>('pgbouncer.pools', (d) => !!d && typeof d === 'object' && Array.isArray((d as {pools?: unknown}).pools))
