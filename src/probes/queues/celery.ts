/**
 * Celery on a Redis broker (kombu's Redis transport), read-only:
 *   <queue>                  list, LPUSH to publish and BRPOP to consume: the oldest message is at index -1
 *   <queue>\x06\x16{3,6,9}   the priority lists (kombu's priority separator), priority 0 uses the plain name
 *   unacked / unacked_index  hash and zset of messages delivered to a worker and not yet acknowledged, for all
 *                            queues together (scored by delivery time; redelivered after visibility_timeout, 3600 s)
 *   _kombu.binding.<exch>    sets of "routing_key\x06\x16pattern\x06\x16queue": how queues are discovered
 * Celery's message (protocol 2) has headers such as task, id, eta, retries but no enqueue time, so the age of
 * the oldest message is reported as unknown unless the publisher set the AMQP `timestamp` property.
 */
import type {ProbeContext} from '../../core/probe.js'
import type {RedisSession} from '../../drivers/redis.js'
import {capQueues, defineQueueProbe, type QueueRead} from './define.js'
import {ageSeconds, epochToMs, type QueueState} from './normalise.js'
import {assertPermitted, pipelineValue, redisDbFlag, redisQueueOptions, scanKeys, shellQuote, toNumber} from './redis-discovery.js'

const SEP = '\x06\x16'
const PRIORITY_STEPS = ['3', '6', '9']

/** Queue names from kombu's binding sets, plus configured ones; 'celery' (the default queue) when it exists. */
async function discoverCeleryQueues(session: RedisSession, ctx: ProbeContext): Promise<{names: string[]; notes: string[]}> {
  const opts = redisQueueOptions(ctx.options)
  const notes: string[] = []
  const names = new Set<string>(opts.celeryQueues)
  const scan = await scanKeys(session, '_kombu.binding.*', opts)
  if (!scan.complete) notes.push(`discovery of _kombu.binding.* stopped after ${scan.calls} SCAN calls (maxScanCalls)`)
  const bindingSets = scan.keys.slice(0, 100)
  const discovery: Array<[string, ...string[]]> = [...bindingSets.map((k): [string, ...string[]] => ['SMEMBERS', k]), ['TYPE', 'celery']]
  const replies = await session.pipeline(discovery)
  assertPermitted(discovery, replies)
  bindingSets.forEach((_, i) => {
    for (const member of (pipelineValue<string[]>(replies[i]) ?? []).map(String)) {
      const queue = member.split(SEP).at(-1)
      if (queue) names.add(queue)
    }
  })
  if (pipelineValue(replies[bindingSets.length]) === 'list') names.add('celery')
  return {names: [...names].sort(), notes}
}

function parseMessage(raw: unknown): {task?: string; timestampMs?: number} | undefined {
  if (typeof raw !== 'string') return undefined
  try {
    const msg = JSON.parse(raw) as {headers?: Record<string, unknown>; properties?: Record<string, unknown>}
    const ts = Number(msg.properties?.timestamp ?? msg.headers?.timestamp)
    return {task: msg.headers?.task as string | undefined, timestampMs: Number.isFinite(ts) && ts > 0 ? epochToMs(ts) : undefined}
  } catch {
    return undefined
  }
}

export async function readCelery(session: RedisSession, ctx: ProbeContext): Promise<QueueRead> {
  const opts = redisQueueOptions(ctx.options)
  const found = await discoverCeleryQueues(session, ctx)
  const notes = [...found.notes]
  const {kept: read, truncated} = capQueues(found.names, opts.maxQueues, 'Celery queues', notes)
  if (read.length === 0) return {states: [], truncated, notes}

  const PER_QUEUE = 5
  const commands: Array<[string, ...Array<string | number>]> = []
  for (const name of read) {
    commands.push(['LLEN', name], ...PRIORITY_STEPS.map((p): [string, string] => ['LLEN', `${name}${SEP}${p}`]), ['LINDEX', name, -1])
  }
  const globalsAt = commands.length
  commands.push(['HLEN', 'unacked'], ['ZRANGE', 'unacked_index', 0, 0, 'WITHSCORES'])
  const replies = await session.pipeline(commands)
  assertPermitted(commands, replies)
  const unacked = toNumber(pipelineValue(replies[globalsAt]))
  const oldestUnacked = pipelineValue<string[]>(replies[globalsAt + 1]) ?? []
  const nowMs = Date.now()
  const oldestUnackedAge = oldestUnacked.length === 2 ? ageSeconds(epochToMs(Number(oldestUnacked[1])), nowMs) : null

  const dbFlag = redisDbFlag(ctx.target.url)
  const states: QueueState[] = read.map((name, i) => {
    const r = replies.slice(i * PER_QUEUE, (i + 1) * PER_QUEUE)
    const plain = toNumber(pipelineValue(r[0]))
    const byPriority = PRIORITY_STEPS.map((_, j) => toNumber(pipelineValue(r[1 + j])))
    const depth = plain + byPriority.reduce((a, b) => a + b, 0)
    const oldest = parseMessage(pipelineValue(r[4]))
    return {
      system: 'celery',
      name,
      depth,
      oldestAgeSeconds: depth === 0 ? 0 : oldest?.timestampMs ? ageSeconds(oldest.timestampMs, nowMs) : null,
      ageNote: depth > 0 && !oldest?.timestampMs ? 'unknown: Celery messages carry no enqueue time (set the timestamp property to measure it)' : undefined,
      consumers: null,
      consumersNote: 'Celery workers are not visible in the broker (use celery inspect or Flower)',
      // unacked is shared by every queue; it can be attributed only when there is one queue.
      inFlight: read.length === 1 ? unacked : null,
      failed: null,
      counters: {},
      notes: ['broker depth is a lower bound: workers prefetch messages (see in-flight)'],
      details: {plain, priority3: byPriority[0], priority6: byPriority[1], priority9: byPriority[2], oldestTask: oldest?.task},
    }
  })
  if (read.length > 1) {
    states.push({
      system: 'celery',
      name: '*',
      aggregate: true,
      depth: states.reduce((n, s) => n + s.depth, 0),
      oldestAgeSeconds: null,
      consumers: null,
      inFlight: unacked,
      failed: null,
      counters: {},
      inspectCommand: `redis-cli${dbFlag} HLEN ${shellQuote('unacked')}`,
      details: {unacked, oldestUnackedAgeSeconds: oldestUnackedAge},
    })
  } else if (states[0]) {
    states[0].details = {...states[0].details, oldestUnackedAgeSeconds: oldestUnackedAge}
  }
  return {states, truncated, notes}
}

export const celeryQueuesProbe = defineQueueProbe<RedisSession>({
  id: 'queues.celery',
  kind: 'redis',
  system: 'celery',
  description: 'Celery (kombu Redis transport) queues: depth with priority lists, unacked in flight',
  read: readCelery,
  noQueues: () => 'no Celery queues found (no _kombu.binding.* sets, no list named celery, none configured in queues.celeryQueues)',
})
