/**
 * The cache and queue half of the demo: it joins only when a Redis answers (REDIS_URL, or the default
 * redis://127.0.0.1:6379). The seeders themselves live in redis-seed.ts and queue-seed.ts; a build without
 * one of them simply leaves that part out. Everything is written under one random prefix and removed after.
 */
import {Redis} from 'ioredis'

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379'

export interface RedisPart {
  url: string
  /** Every key the demo writes contains this (the seeders add their own ":" separators after it). */
  prefix: string
  /** What was seeded, one line each, for the progress output. */
  seeded: string[]
  /** Options for the Redis target that the seeders ask for (e.g. where the BullMQ probe should look). */
  targetOptions: Record<string, unknown>
  /** Removes every key the demo wrote (and calls the seeders' own cleanups). */
  cleanup(): Promise<void>
}

type Seeder = (url: string, prefix: string) => Promise<unknown>

function openClient(url: string, connectTimeoutMs: number): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: connectTimeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'chokepoint-demo',
  })
  client.on('error', () => {})
  return client
}

/** Whether a Redis answers PING at `url` within the timeout; the reason when not. */
export async function checkRedis(url: string, timeoutMs = 700): Promise<{ok: true} | {ok: false; reason: string}> {
  let client: Redis | undefined
  try {
    client = openClient(url, timeoutMs)
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref())
    await Promise.race([client.connect().then(() => client!.ping()), timeout])
    return {ok: true}
  } catch (error) {
    const e = error as {code?: string; message?: string}
    return {ok: false, reason: e.code === 'ECONNREFUSED' ? 'connection refused' : (e.message ?? String(error))}
  } finally {
    client?.disconnect()
  }
}

/** Loads an optional seeder module of this directory; undefined when this build does not include it. */
async function optionalSeeder(module: string, exportName: string): Promise<Seeder | undefined> {
  try {
    const mod = (await import(module)) as Record<string, unknown>
    return typeof mod[exportName] === 'function' ? (mod[exportName] as Seeder) : undefined
  } catch (error) {
    if ((error as {code?: string}).code === 'ERR_MODULE_NOT_FOUND') return undefined
    throw error
  }
}

function describeSeeded(what: string, result: unknown): string {
  const r = (result && typeof result === 'object' ? result : {}) as {keys?: unknown; queues?: unknown; expected?: unknown}
  const parts: string[] = []
  if (typeof r.keys === 'number') parts.push(`${r.keys} keys`)
  if (Array.isArray(r.queues)) parts.push(`queues ${r.queues.join(', ')}`)
  if (Array.isArray(r.expected) && r.expected.length > 0) parts.push(`planted: ${r.expected.join('; ')}`)
  return parts.length > 0 ? `${what}: ${parts.join(', ')}` : what
}

function targetOptionsOf(result: unknown): Record<string, unknown> {
  const options = (result as {targetOptions?: unknown} | undefined)?.targetOptions
  return options && typeof options === 'object' ? (options as Record<string, unknown>) : {}
}

/** Merges option objects one level deep (e.g. two seeders both setting parts of options.queues). */
function mergeOptions(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(from)) {
    const existing = into[key]
    into[key] = existing && typeof existing === 'object' && value && typeof value === 'object' && !Array.isArray(value)
      ? {...(existing as object), ...(value as object)}
      : value
  }
}

function cleanupOf(result: unknown): (() => Promise<unknown>) | undefined {
  if (typeof result === 'function') return result as () => Promise<unknown>
  if (result && typeof result === 'object' && 'cleanup' in result && typeof result.cleanup === 'function') {
    return (result.cleanup as () => Promise<unknown>).bind(result)
  }
  return undefined
}

/** Deletes the keys holding `prefix` with SCAN (never KEYS) and UNLINK, in bounded batches. */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  const client = openClient(url, 2000)
  let deleted = 0
  try {
    await client.connect()
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 500)
      cursor = next
      if (keys.length > 0) deleted += await client.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
  return deleted
}

/**
 * Seeds the cache and the queues under `prefix` with the colleagues' seeders when they exist. Returns a
 * part whose cleanup removes whatever was written, even when a seeder failed halfway.
 */
export async function seedRedisPart(url: string, prefix: string, log: (message: string) => void): Promise<RedisPart> {
  const cleanups: Array<() => Promise<unknown>> = []
  const seeded: string[] = []
  const part: RedisPart = {
    url,
    prefix,
    seeded,
    targetOptions: {},
    async cleanup() {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
      await deleteKeysWithPrefix(url, prefix).catch(() => 0)
    },
  }
  // [module, export, what it seeds, its own prefix]: both prefixes contain `prefix`, so one SCAN finds all.
  const seeders: Array<[string, string, string, string]> = [
    ['./redis-seed.js', 'seedDemoRedis', 'cache', prefix],
    ['./queue-seed.js', 'seedDemoQueues', 'queues', `${prefix}-bull`],
  ]
  try {
    for (const [module, exportName, what, ownPrefix] of seeders) {
      const seeder = await optionalSeeder(module, exportName)
      if (!seeder) {
        log(`Redis: the ${what} seed is not part of this build; skipping it`)
        continue
      }
      const result = await seeder(url, ownPrefix)
      const cleanup = cleanupOf(result)
      if (cleanup) cleanups.push(cleanup)
      mergeOptions(part.targetOptions, targetOptionsOf(result))
      seeded.push(describeSeeded(what, result))
    }
  } catch (error) {
    await part.cleanup()
    throw error
  }
  return part
}

