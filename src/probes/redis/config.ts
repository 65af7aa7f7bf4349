import {ProbeSkip, errorMessage} from '../../core/errors.js'
import type {Probe} from '../../core/probe.js'
import type {RedisSession} from '../../drivers/redis.js'
import {isPermissionError} from './info-parse.js'

/** Settings the cache analysis reasons about; nothing secret (requirepass, masterauth) is ever asked for. */
export const CONFIG_PARAMETERS = ['maxmemory', 'maxmemory-policy', 'maxclients', 'activedefrag', 'lfu-log-factor', 'lfu-decay-time', 'maxmemory-samples'] as const

/**
 * CONFIG GET of the memory, eviction and client settings. CONFIG is often renamed or denied by ACL on managed
 * Redis: then this reading is skipped with the reason, and the other probes fall back to INFO (which carries
 * maxmemory, maxmemory_policy and, since Redis 7, maxclients).
 */
export const redisConfigProbe: Probe<RedisSession> = {
  id: 'redis.config',
  kind: 'redis',
  description: 'CONFIG GET maxmemory, maxmemory-policy, maxclients, activedefrag, lfu-*',

  async collect(session) {
    // One CONFIG GET per parameter (servers before 7.0 accept only one pattern), sent as one pipeline.
    const replies = await session.pipeline(CONFIG_PARAMETERS.map((p) => ['CONFIG', 'GET', p] as [string, ...string[]]))
    const settings: Record<string, string> = {}
    for (const [error, reply] of replies) {
      if (error) {
        if (isPermissionError(error)) {
          throw new ProbeSkip(`CONFIG GET refused (${errorMessage(error).split('\n')[0]}): policy and limits are read from INFO instead; activedefrag and lfu-* settings unknown`)
        }
        throw error
      }
      const pairs = reply as string[]
      for (let i = 0; i + 1 < pairs.length; i += 2) settings[pairs[i]] = pairs[i + 1]
    }
    return {data: {settings}, metrics: []}
  },
}
