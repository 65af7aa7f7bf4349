import type {Metric} from '../../core/types.js'
import type {Probe, ProbeContext} from '../../core/probe.js'
import type {RedisSession} from '../../drivers/redis.js'
import {errorMessage} from '../../core/errors.js'
import {round} from '../../core/numbers.js'
import {infoNumber, isPermissionError, keyspaceDbs, parseInfo, policyEvicts, type InfoFields} from './info-parse.js'

/** Below this many lookups in the window a hit rate is noise: the metric is recorded as null (no verdict). */
export const MIN_LOOKUPS_FOR_HIT_RATE = 100

interface InfoBaseline {
  at: number
  fields: InfoFields
}

/** The cumulative counters this probe differences over the window. */
const COUNTERS = ['keyspace_hits', 'keyspace_misses', 'evicted_keys', 'expired_keys', 'rejected_connections', 'total_commands_processed'] as const

async function readInfo(session: RedisSession): Promise<InfoFields> {
  // Plain INFO returns the default sections (server, clients, memory, stats, keyspace ...): one round trip.
  return parseInfo(await session.send<string>('INFO'))
}

/**
 * Server-wide health from INFO: hit rate, evictions and expirations (deltas over --window), memory against
 * maxmemory, allocator fragmentation, clients against maxclients and rejected connections.
 *
 * Redis counts TYPE/PTTL/OBJECT lookups as keyspace hits, so this probe must collect before redis.keys samples
 * the keyspace (it is listed first in index.ts): otherwise our own sampling would inflate the hit rate.
 */
export const redisInfoProbe: Probe<RedisSession> = {
  id: 'redis.info',
  kind: 'redis',
  description: 'INFO counters: hit rate, evictions, expirations, memory vs maxmemory, fragmentation, clients',

  async baseline(session): Promise<InfoBaseline> {
    return {at: Date.now(), fields: await readInfo(session)}
  },

  async collect(session, ctx: ProbeContext, baseline) {
    const base = baseline as InfoBaseline | undefined
    const now = await readInfo(session)
    const at = Date.now()
    const n = (name: string) => infoNumber(now, name)
    const uptime = n('uptime_in_seconds') ?? 0
    // Without a baseline the counters are read once and mean "since the server started" (or CONFIG RESETSTAT).
    const sinceStart = !base
    const windowSeconds = base ? Math.max((at - base.at) / 1000, 0.001) : uptime
    const windowLabel = sinceStart ? `since start (uptime ${uptime}s; counters are cumulative, use --window for a live rate)` : `${round(windowSeconds)}s`
    const delta: Record<string, number | undefined> = {}
    for (const c of COUNTERS) {
      const after = n(c)
      const before = base ? infoNumber(base.fields, c) : 0
      // A restart or CONFIG RESETSTAT during the window makes counters go backwards: use the post-reset value.
      delta[c] = after === undefined || before === undefined ? undefined : after >= before ? after - before : after
    }

    const target = ctx.target.name
    const metrics: Metric[] = []
    const unavailable: Record<string, string> = {}
    const policy = now.maxmemory_policy
    const maxmemory = n('maxmemory')
    const used = n('used_memory')

    // Hit rate over the window.
    const hits = delta.keyspace_hits
    const misses = delta.keyspace_misses
    if (hits !== undefined && misses !== undefined) {
      const lookups = hits + misses
      const tooFew = lookups < MIN_LOOKUPS_FOR_HIT_RATE
      metrics.push({
        name: 'cache.hit_rate',
        value: tooFew ? null : hits / lookups,
        subject: target,
        evidence: {hits, misses, lookups, windowSeconds: round(windowSeconds), window: windowLabel,
          ...(tooFew ? {note: `only ${lookups} lookups in the window (fewer than ${MIN_LOOKUPS_FOR_HIT_RATE}): no verdict`} : {})},
      })
    }

    // Evictions and expirations.
    const evicted = delta.evicted_keys
    if (evicted !== undefined) {
      const hitRate = hits !== undefined && misses !== undefined && hits + misses >= MIN_LOOKUPS_FOR_HIT_RATE ? hits / (hits + misses) : null
      metrics.push({
        name: 'cache.evictions.per_second',
        value: evicted / windowSeconds,
        subject: target,
        evidence: {evictedKeys: evicted, expiredKeys: delta.expired_keys ?? null, windowSeconds: round(windowSeconds), window: windowLabel,
          policy: policy ?? 'unknown', policyEvicts: policyEvicts(policy), maxmemory: maxmemory ?? null, usedMemory: used ?? null, hitRate},
      })
    }
    if (delta.expired_keys !== undefined) {
      metrics.push({name: 'cache.expired.per_second', value: delta.expired_keys / windowSeconds, subject: target,
        evidence: {expiredKeys: delta.expired_keys, windowSeconds: round(windowSeconds), window: windowLabel, expiredStalePercent: n('expired_stale_perc') ?? null}})
    }

    // Memory against maxmemory; maxmemory 0 means unbounded, so the only ceiling left is the machine's RAM.
    const totalSystem = n('total_system_memory')
    if (used !== undefined && maxmemory !== undefined) {
      const bounded = maxmemory > 0
      const limit = bounded ? maxmemory : totalSystem
      if (limit && limit > 0) {
        metrics.push({
          name: 'cache.memory.utilization',
          value: used / limit,
          subject: target,
          evidence: {usedMemory: used, maxmemory, limitBytes: limit, bounded,
            basis: bounded ? 'maxmemory' : 'total_system_memory (maxmemory is 0 = unbounded; in a container this may be the host\'s RAM, not the limit)',
            policy: policy ?? 'unknown', usedMemoryRss: n('used_memory_rss') ?? null, usedMemoryPeak: n('used_memory_peak') ?? null},
        })
      } else unavailable.memory = 'maxmemory is 0 (unbounded) and INFO has no total_system_memory'
    } else unavailable.memory = 'INFO memory has no used_memory/maxmemory'

    // Fragmentation: the allocator's own ratio, not mem_fragmentation_ratio (rss/used), which counts process
    // overhead and reads high on small instances. The rule ignores small absolute waste.
    const allocRatio = n('allocator_frag_ratio')
    if (allocRatio !== undefined) {
      metrics.push({
        name: 'cache.fragmentation.ratio',
        value: allocRatio,
        subject: target,
        evidence: {allocatorFragRatio: allocRatio, allocatorFragBytes: n('allocator_frag_bytes') ?? 0, memFragmentationRatio: n('mem_fragmentation_ratio') ?? null,
          memFragmentationBytes: n('mem_fragmentation_bytes') ?? null, usedMemory: used ?? null, activeDefragRunning: n('active_defrag_running') ?? null,
          allocator: now.mem_allocator ?? 'unknown'},
      })
    } else unavailable.fragmentation = `INFO memory has no allocator_frag_ratio (allocator ${now.mem_allocator ?? 'unknown'}; needs jemalloc and Redis 4+)`

    // Clients against maxclients (INFO clients has maxclients since Redis 7; older servers need CONFIG GET).
    const connected = n('connected_clients')
    let maxclients = n('maxclients')
    if (maxclients === undefined) {
      try {
        const reply = await session.send<string[]>('CONFIG', 'GET', 'maxclients')
        maxclients = reply?.[1] !== undefined ? Number(reply[1]) : undefined
      } catch (error) {
        if (!isPermissionError(error)) throw error
        unavailable.clients = `skipped: CONFIG GET maxclients refused (${errorMessage(error)}); INFO has no maxclients before Redis 7`
      }
    }
    if (connected !== undefined && maxclients) {
      metrics.push({name: 'cache.clients.utilization', value: connected / maxclients, subject: target,
        evidence: {connectedClients: connected, maxclients, blockedClients: n('blocked_clients') ?? null}})
    }
    if (delta.rejected_connections !== undefined) {
      metrics.push({name: 'cache.clients.rejected', value: delta.rejected_connections, subject: target,
        evidence: {rejectedConnections: delta.rejected_connections, windowSeconds: round(windowSeconds), window: windowLabel, maxclients: maxclients ?? null, connectedClients: connected ?? null}})
    }

    const dbs = keyspaceDbs(now)
    return {
      data: {
        version: now.redis_version,
        mode: now.redis_mode,
        role: now.role,
        uptimeSeconds: uptime,
        window: windowLabel,
        windowSeconds: round(windowSeconds),
        sinceStart,
        deltas: delta,
        memory: {usedMemory: used, usedMemoryRss: n('used_memory_rss'), maxmemory, policy, totalSystemMemory: totalSystem,
          allocatorFragRatio: allocRatio, allocatorFragBytes: n('allocator_frag_bytes'), memFragmentationRatio: n('mem_fragmentation_ratio')},
        clients: {connected, maxclients, blocked: n('blocked_clients')},
        keyspace: dbs,
        ...(Object.keys(unavailable).length ? {unavailable} : {}),
      },
      metrics,
    }
  },
}
