/**
 * A BullMQ-shaped backlog for the demo, written with plain Redis commands in BullMQ's own key layout (bullmq is
 * not a runtime dependency): under the BullMQ key prefix `prefix`,
 * - queue `emails`: 1,500 waiting jobs, the oldest enqueued 20 minutes ago, no worker, and 3 jobs that failed a
 *   minute ago with their failedReason (queue/depth, queue/latency, queue/no-consumers, queue/dead-letter-growth);
 * - queue `thumbnails`: healthy, nothing waiting, 40 completed (no finding).
 * The demo must audit the Redis target with `targetOptions` so the BullMQ probe looks under this prefix.
 */
import {Redis} from 'ioredis'

export interface DemoQueueSeed {
  prefix: string
  queues: string[]
  /** Options for the Redis target (options.queues.bullmqPrefixes). */
  targetOptions: Record<string, unknown>
  expected: string[]
  cleanup: () => Promise<number>
}

const BACKLOG = 1500

export async function seedDemoQueues(redisUrl: string, prefix = 'chokepoint-demo-bull'): Promise<DemoQueueSeed> {
  const client = new Redis(redisUrl, {lazyConnect: true, maxRetriesPerRequest: 1})
  client.on('error', () => {})
  await client.connect()
  try {
    await cleanupKeys(client, prefix)
    const now = Date.now()
    const k = (queue: string, suffix: string) => `${prefix}:${queue}:${suffix}`
    const pipe = client.pipeline()
    for (const queue of ['emails', 'thumbnails']) pipe.hset(k(queue, 'meta'), 'opts.maxLenEvents', '10000', 'version', 'bullmq:6.7.0')
    // Job ids 1..1500; producers LPUSH, so job 1 (the oldest) sits at the right end of wait.
    for (let id = 1; id <= BACKLOG; id++) {
      const timestamp = id === 1 ? now - 20 * 60_000 : now - Math.round((BACKLOG - id) * 400)
      pipe.hset(k('emails', String(id)), 'name', 'send-receipt', 'data', JSON.stringify({orderId: 10_000 + id}), 'opts', '{}', 'timestamp', String(timestamp), 'delay', '0', 'priority', '0')
      pipe.lpush(k('emails', 'wait'), String(id))
    }
    for (let j = 1; j <= 3; j++) {
      const id = BACKLOG + j
      pipe.hset(k('emails', String(id)), 'name', 'send-receipt', 'data', '{}', 'opts', '{}', 'timestamp', String(now - 120_000), 'processedOn', String(now - 70_000),
        'finishedOn', String(now - 60_000), 'failedReason', 'SMTP 421: too many connections from this IP', 'attemptsMade', '3')
      pipe.zadd(k('emails', 'failed'), now - 60_000, String(id))
    }
    pipe.set(k('emails', 'id'), String(BACKLOG + 3))
    for (let id = 1; id <= 40; id++) {
      pipe.hset(k('thumbnails', String(id)), 'name', 'resize', 'data', '{}', 'opts', '{}', 'timestamp', String(now - 90_000), 'finishedOn', String(now - 60_000), 'returnvalue', 'null')
      pipe.zadd(k('thumbnails', 'completed'), now - 60_000, String(id))
    }
    pipe.set(k('thumbnails', 'id'), '40')
    await pipe.exec()
  } finally {
    client.disconnect()
  }
  const subject = `bullmq:${prefix}:emails`
  return {
    prefix,
    queues: ['emails', 'thumbnails'],
    targetOptions: {queues: {bullmqPrefixes: [prefix]}},
    expected: [`queue/depth on ${subject}`, `queue/latency on ${subject}`, `queue/no-consumers on ${subject}`, `queue/dead-letter-growth on ${subject}`],
    cleanup: () => cleanupDemoQueues(redisUrl, prefix),
  }
}

/** Deletes every key under the demo prefix (SCAN + UNLINK, never KEYS); returns how many were deleted. */
export async function cleanupDemoQueues(redisUrl: string, prefix = 'chokepoint-demo-bull'): Promise<number> {
  const client = new Redis(redisUrl, {lazyConnect: true, maxRetriesPerRequest: 1})
  client.on('error', () => {})
  await client.connect()
  try {
    return await cleanupKeys(client, prefix)
  } finally {
    client.disconnect()
  }
}

async function cleanupKeys(client: Redis, prefix: string): Promise<number> {
  let deleted = 0
  for await (const keys of client.scanStream({match: `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:*`, count: 100}) as AsyncIterable<string[]>) {
    if (keys.length) deleted += await client.unlink(...keys)
  }
  return deleted
}
