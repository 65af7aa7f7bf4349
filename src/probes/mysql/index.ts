import type {Probe} from '../../core/probe.js'
import type {MysqlSession} from '../../drivers/mysql.js'
import {bufferPoolProbe} from './buffer-pool.js'
import {connectionsProbe} from './connections.js'
import {indexHealthProbe} from './index-health.js'
import {replicationProbe} from './replication.js'
import {sessionsProbe} from './sessions.js'
import {statementsProbe} from './statements.js'

export const mysqlProbes: Probe<MysqlSession>[] = [
  connectionsProbe,
  sessionsProbe,
  bufferPoolProbe,
  statementsProbe,
  replicationProbe,
  indexHealthProbe,
]
