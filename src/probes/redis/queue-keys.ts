/**
 * Recognises job-queue keys (BullMQ, Sidekiq, Celery/kombu) in a Redis keyspace. Queue keys must never be
 * evicted (a lost list is lost jobs) and never get a TTL; see reference/cache-queue-anchors.md section 2.
 */
export type QueueFramework = 'bullmq' | 'sidekiq' | 'celery'

/** BullMQ's per-queue keys (bull:<queue>:<suffix>); anything else under bull:<queue>: is a job hash or its logs/locks. */
export const BULLMQ_SUFFIXES = new Set(['wait', 'active', 'paused', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed',
  'stalled', 'stalled-check', 'meta', 'events', 'marker', 'id', 'limiter', 'de', 'repeat', 'pc', 'priority', 'meta-paused'])

/** Keys whose name and Redis type identify a framework's queue on their own. */
export function queueFrameworkOf(key: string, type?: string): QueueFramework | undefined {
  const bull = /^bull:[^:]+:(.+)$/.exec(key)
  if (bull) return 'bullmq'
  // Sidekiq: the `queues` set, queue:<name> lists, and its job zsets and bookkeeping.
  if ((key === 'queues' || key === 'processes') && (!type || type === 'set')) return 'sidekiq'
  if (/^queue:[^:]+$/.test(key) && (!type || type === 'list')) return 'sidekiq'
  if ((key === 'schedule' || key === 'retry' || key === 'dead') && (!type || type === 'zset')) return 'sidekiq'
  // Celery on kombu: the default `celery` list, bindings, and the global unacked hash/zset.
  if (key.startsWith('_kombu.binding.')) return 'celery'
  if ((key === 'unacked' && (!type || type === 'hash')) || (key === 'unacked_index' && (!type || type === 'zset'))) return 'celery'
  if (key === 'celery' && (!type || type === 'list')) return 'celery'
  if (/^celery\x06\x16\d$/.test(key)) return 'celery'
  return undefined
}

/**
 * BullMQ queues with a custom prefix: <prefix>:<queue>:meta as a hash or :wait as a list reveal the queue's key
 * prefix "<prefix>:<queue>", under which its job hashes live.
 */
export function customBullQueuePrefix(key: string, type: string): string | undefined {
  const m = /^([^:]+):([^:]+):(meta|wait|events|marker)$/.exec(key)
  if (!m || m[1] === 'bull') return undefined
  const expected: Record<string, string> = {meta: 'hash', wait: 'list', events: 'stream', marker: 'zset'}
  return expected[m[3]] === type ? `${m[1]}:${m[2]}` : undefined
}

/** The queue name a key belongs to (for reporting), e.g. bull:emails:wait -> emails, queue:default -> default. */
export function queueNameOf(key: string, framework: QueueFramework): string | undefined {
  if (framework === 'bullmq') return /^[^:]+:([^:]+):/.exec(key)?.[1]
  if (framework === 'sidekiq') return /^queue:(.+)$/.exec(key)?.[1]
  if (framework === 'celery') return key === 'celery' ? 'celery' : /^_kombu\.binding\.(.+)$/.exec(key)?.[1]
  return undefined
}

/** Well-known fixed key names read directly (TYPE, one pipeline), since a sample of a large keyspace may miss them. */
export const WELL_KNOWN_QUEUE_KEYS = ['queues', 'celery', 'unacked', 'unacked_index', '_kombu.binding.celery', 'schedule', 'retry', 'dead']
