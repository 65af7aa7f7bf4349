import type {Probe} from '../../core/probe.js'
import type {RedisSession} from '../../drivers/redis.js'

export const redisProbes: Probe<RedisSession>[] = []
