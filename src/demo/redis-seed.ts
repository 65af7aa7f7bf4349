import {randomUUID} from 'node:crypto'
import {Redis} from 'ioredis'

/** What the demo keyspace contains, so the demo can say what chokepoint should find. */
export interface DemoRedisSeed {
  prefix: string
  keys: number
  expected: string[]
  cleanup: () => Promise<number>
}

/**
 * Writes a small, realistic cache keyspace under `prefix` with a few bottlenecks for the demo:
 * - `<prefix>:session:<uuid>`: sessions written without a TTL, idle 5..60 min (cache/no-ttl-pattern advises a sliding expiry, no backfill);
 * - `<prefix>:recs:<id>`: recommendations written with a 1h TTL 30 min ago and never read (cache/write-only-pattern);
 * - `<prefix>:product:<id>`: a healthy product cache with a 10 min TTL, read recently (no finding).
 * Idle times are set with RESTORE ... IDLETIME so the demo needs no waiting. Returns a cleanup that deletes the
 * prefix again (SCAN + UNLINK, never KEYS).
 */
export async function seedDemoRedis(url: string, prefix = 'chokepoint-demo'): Promise<DemoRedisSeed> {
  const client = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 1})
  client.on('error', () => {})
  await client.connect()
  try {
    const pipe = client.pipeline()
    for (let i = 0; i < 60; i++) pipe.set(`${prefix}:session:${randomUUID()}`, JSON.stringify({userId: 1000 + i, cart: [i, i + 1]}))
    for (let i = 0; i < 40; i++) pipe.set(`${prefix}:recs:${2000 + i}`, JSON.stringify({items: [1, 2, 3, 4, 5]}))
    for (let i = 0; i < 80; i++) pipe.set(`${prefix}:product:${3000 + i}`, JSON.stringify({id: 3000 + i, price: 9.99}), 'EX', 600)
    // Anchor the recs pattern's full TTL: the freshest key shows how long the application's TTL is.
    pipe.set(`${prefix}:recs:1`, '{}', 'EX', 3600)
    await pipe.exec()
    const aged = client.pipeline()
    let i = 0
    for await (const keys of client.scanStream({match: `${prefix}:session:*`, count: 100}) as AsyncIterable<string[]>) {
      for (const key of keys) {
        const dump = await client.dumpBuffer(key)
        aged.call('RESTORE', key, '0', dump, 'REPLACE', 'IDLETIME', String(300 + (i++ % 12) * 300))
      }
    }
    for (let j = 0; j < 40; j++) {
      const key = `${prefix}:recs:${2000 + j}`
      const dump = await client.dumpBuffer(key)
      aged.call('RESTORE', key, String(1800 * 1000), dump, 'REPLACE', 'IDLETIME', '1800')
    }
    await aged.exec()
    return {
      prefix,
      keys: 181,
      expected: [`cache/no-ttl-pattern on ${prefix}:session:*`, `cache/write-only-pattern on ${prefix}:recs:*`],
      cleanup: () => cleanupDemoRedis(url, prefix),
    }
  } finally {
    client.disconnect()
  }
}

/** Deletes every key under `prefix` (SCAN + UNLINK in batches); returns how many were removed. */
export async function cleanupDemoRedis(url: string, prefix = 'chokepoint-demo'): Promise<number> {
  const client = new Redis(url, {lazyConnect: true, maxRetriesPerRequest: 1})
  client.on('error', () => {})
  await client.connect()
  let removed = 0
  try {
    for await (const keys of client.scanStream({match: `${prefix}:*`, count: 100}) as AsyncIterable<string[]>) {
      if (keys.length) removed += await client.unlink(...keys)
    }
  } finally {
    client.disconnect()
  }
  return removed
}
