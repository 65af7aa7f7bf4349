import type {Probe} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {activityProbe} from './activity.js'
import {cacheHitProbe} from './cache-hit.js'
import {connectionsProbe} from './connections.js'
import {tablesProbe} from './tables.js'
import {xidAgeProbe} from './xid-age.js'

export const postgresProbes: Probe<PgSession>[] = [
  connectionsProbe,
  activityProbe,
  cacheHitProbe,
  tablesProbe,
  xidAgeProbe,
]
