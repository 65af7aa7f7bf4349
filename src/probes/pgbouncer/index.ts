import type {Probe} from '../../core/probe.js'
import type {PgBouncerSession} from '../../drivers/pgbouncer.js'
import {poolsProbe} from './pools.js'
import {statsProbe} from './stats.js'

/** SHOW POOLS/DATABASES/CONFIG (pools) and SHOW STATS (stats): everything a stats_users member may read. */
export const pgbouncerProbes: Probe<PgBouncerSession>[] = [poolsProbe, statsProbe]
