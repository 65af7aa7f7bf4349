import type {Probe} from '../../core/probe.js'
import type {PgSession} from '../../drivers/postgres.js'
import {activityProbe} from './activity.js'
import {cacheHitProbe} from './cache-hit.js'
import {columnStatsProbe} from './column-stats.js'
import {connectionsProbe} from './connections.js'
import {indexesProbe} from './indexes.js'
import {locksProbe} from './locks.js'
import {plansProbe} from './plans.js'
import {preparedXactsProbe} from './prepared-xacts.js'
import {replicationProbe} from './replication.js'
import {statementsProbe} from './statements.js'
import {tablesProbe} from './tables.js'
import {walProbe} from './wal.js'
import {xidAgeProbe} from './xid-age.js'

export const postgresProbes: Probe<PgSession>[] = [
  connectionsProbe,
  activityProbe,
  locksProbe,
  cacheHitProbe,
  tablesProbe,
  xidAgeProbe,
  preparedXactsProbe,
  statementsProbe,
  indexesProbe,
  replicationProbe,
  walProbe,
  plansProbe,
  columnStatsProbe,
]
