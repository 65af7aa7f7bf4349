/** The MySQL/MariaDB readings other parts consume, typed once here (probe ids and data shapes). */
import {readingKey} from '../core/readings.js'
import type {MysqlPlansData} from '../probes/mysql/plans.js'

export type {MysqlPlansData, MysqlPlanStatement} from '../probes/mysql/plans.js'

export const mysqlPlansReading = readingKey<MysqlPlansData>('mysql.plans', (d) => !!d && typeof d === 'object' && Array.isArray((d as {statements?: unknown}).statements)
  && typeof (d as {catalog?: unknown}).catalog === 'object')
