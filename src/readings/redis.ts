/** The Redis readings other parts consume, typed once here (probe ids and data shapes). */
import {readingKey} from '../core/readings.js'
import type {KeyspaceSampleData} from '../probes/redis/keyspace-sample.js'

export type {KeyspaceSampleData, PatternStats} from '../probes/redis/keyspace-sample.js'

export interface RedisInfoData {
  version?: string
  deltas?: Record<string, number | undefined>
  window?: string
  memory?: {policy?: string; maxmemory?: number}
}

export interface RedisConfigData {
  settings?: Record<string, string>
}

export const keysReading = readingKey<KeyspaceSampleData>('redis.keys', (d) => !!d && typeof d === 'object' && Array.isArray((d as {patterns?: unknown}).patterns))
export const infoReading = readingKey<RedisInfoData>('redis.info')
export const configReading = readingKey<RedisConfigData>('redis.config')
