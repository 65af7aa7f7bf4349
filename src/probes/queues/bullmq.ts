/**
 * BullMQ (v3 to v6) and the key layout it keeps in Redis, read with plain read-only commands:
 *   <prefix>:<queue>:wait        list    LPUSH by producers, workers take from the right: oldest = LINDEX -1
 *   <prefix>:<queue>:paused      list    v3 to v5 while paused (v6 keeps jobs in wait with meta.paused=1)
 *   <prefix>:<queue>:prioritized zset    v4+ (before v4 prioritized jobs sat in wait)
 *   <prefix>:<queue>:active      list    in flight
 *   <prefix>:<queue>:delayed     zset    scheduled for later
 *   <prefix>:<queue>:failed      zset    scored by the failure time (ms)
 *   <prefix>:<queue>:completed   zset
 *   <prefix>:<queue>:meta        hash    paused, version ...
 *   <prefix>:<queue>:id          counter incremented for every job added without a custom id (arrivals)
 *   <prefix>:<queue>:<jobId>     hash    timestamp (ms, enqueue time), failedReason, finishedOn
 * Workers open a blocking connection named <prefix>:<base64(queue)>[:w:<name>], so CLIENT LIST shows them.
 * Cost: the SCAN calls of discovery, one CLIENT LIST, and two pipelines whatever the number of queues.
 */
import type {ProbeContext} from '../../core/probe.js'
import type {RedisSession} from '../../drivers/redis.js'
import {capQueues, defineQueueProbe, type QueueRead} from './define.js'
import {ageSeconds, epochToMs, type FailureSample, type QueueState} from './normalise.js'
import {assertPermitted, globEscape, pipelineValue, redisDbFlag, redisQueueOptions, refusalReason, scanKeys, shellQuote, toNumber, type RedisQueueOptions} from './redis-discovery.js'

interface BullQueueRef {
  prefix: string
  name: string
}

/** Finds queues by the keys every layout has at least one of: meta (v2+), id, or wait. */
export async function discoverBullQueues(session: RedisSession, opts: RedisQueueOptions): Promise<{queues: BullQueueRef[]; notes: string[]}> {
  const queues = new Map<string, BullQueueRef>()
  const notes: string[] = []
  for (const prefix of opts.bullmqPrefixes) {
    // One pass matches meta, id and wait (and a few other suffixes filtered below); job hashes (<prefix>:<q>:<digits>) do not match.
    const scan = await scanKeys(session, `${globEscape(prefix)}:*:[imw][ead]*`, opts)
    if (!scan.complete) notes.push(`discovery under '${prefix}:' stopped after ${scan.calls} SCAN calls (maxScanCalls): some queues may be missing`)
    const suffix = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(.+):(meta|id|wait)$`)
    for (const key of scan.keys) {
      const m = suffix.exec(key)
      if (m) queues.set(`${prefix}\u0000${m[1]}`, {prefix, name: m[1]})
    }
  }
  return {queues: [...queues.values()].sort((a, b) => a.name.localeCompare(b.name)), notes}
}

/** Counts BullMQ worker connections per queue from CLIENT LIST names; null when CLIENT is not permitted. */
async function workersByQueue(session: RedisSession, refs: BullQueueRef[], opts: RedisQueueOptions): Promise<{counts: Map<string, number> | null; note?: string}> {
  if (!opts.clientList) return {counts: null, note: 'worker count not read (clientList: false)'}
  let list: string
  try {
    list = String(await session.send('CLIENT', 'LIST'))
  } catch (error) {
    // Workers unknown, not 0: the rest of the reading stands.
    return {counts: null, note: `workers not visible: ${refusalReason(error, ['CLIENT', 'LIST']) ?? `CLIENT LIST failed (${(error as Error).message.split('\n')[0]})`}`}
  }
  const byName = new Map<string, string>()
  for (const ref of refs) byName.set(`${ref.prefix}:${Buffer.from(ref.name).toString('base64')}`, `${ref.prefix}\u0000${ref.name}`)
  const counts = new Map<string, number>()
  for (const line of list.split('\n')) {
    const name = / name=(\S+)/.exec(line)?.[1]
    if (!name) continue
    // A worker's blocking connection is named exactly <prefix>:<base64> or <prefix>:<base64>:w:<worker name>.
    const base = name.includes(':w:') ? name.slice(0, name.indexOf(':w:')) : name
    const key = byName.get(base)
    if (key) counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return {counts}
}

const isMarker = (id: string) => id === '0' || id.startsWith('0:')

export async function readBullQueues(session: RedisSession, ctx: ProbeContext): Promise<QueueRead> {
  const opts = redisQueueOptions(ctx.options)
  const found = await discoverBullQueues(session, opts)
  const notes = [...found.notes]
  const {kept: refs, truncated} = capQueues(found.queues, opts.maxQueues, 'BullMQ queues', notes)
  if (refs.length === 0) return {states: [], truncated, notes}

  const workers = await workersByQueue(session, refs, opts)
  const now = Date.now()
  const recentSince = now - opts.recentFailureSeconds * 1000
  const PER_QUEUE = 13
  const first: Array<[string, ...Array<string | number>]> = []
  for (const ref of refs) {
    const k = (suffix: string) => `${ref.prefix}:${ref.name}:${suffix}`
    first.push(
      ['LLEN', k('wait')],
      ['ZCARD', k('prioritized')],
      ['LLEN', k('paused')],
      ['LLEN', k('active')],
      ['ZCARD', k('delayed')],
      ['ZCARD', k('failed')],
      ['ZCARD', k('completed')],
      ['HMGET', k('meta'), 'paused', 'version'],
      ['GET', k('id')],
      // Two from the right: before v5 a "0" marker could sit at the tail of wait.
      ['LRANGE', k('wait'), -2, -1],
      ['LRANGE', k('paused'), -2, -1],
      ['ZRANGE', k('prioritized'), 0, 0],
      ['ZCOUNT', k('failed'), recentSince, '+inf'],
    )
  }
  const replies = await session.pipeline(first)
  assertPermitted(first, replies)

  const partial = refs.map((ref, i) => {
    const r = replies.slice(i * PER_QUEUE, (i + 1) * PER_QUEUE)
    const v = <T>(j: number) => pipelineValue<T>(r[j])
    const meta = v<Array<string | null>>(7) ?? []
    const tailOf = (list: string[] | undefined) => [...(list ?? [])].reverse().find((id) => !isMarker(String(id)))
    const oldestId = tailOf(v<string[]>(9)) ?? tailOf(v<string[]>(10)) ?? v<string[]>(11)?.[0]
    const oldestFrom = tailOf(v<string[]>(9)) ? 'wait' : tailOf(v<string[]>(10)) ? 'paused' : oldestId ? 'prioritized' : undefined
    return {
      ref,
      wait: toNumber(v(0)),
      prioritized: toNumber(v(1)),
      pausedList: toNumber(v(2)),
      active: toNumber(v(3)),
      delayed: toNumber(v(4)),
      failed: toNumber(v(5)),
      completed: toNumber(v(6)),
      pausedFlag: meta[0] === '1',
      version: meta[1] ?? undefined,
      idCounter: v<string | null>(8),
      oldestId,
      oldestFrom,
      recentFailures: toNumber(v(12)),
    }
  })

  // Second round trip: the oldest waiting job's enqueue time, and the newest failures for triage.
  const second: Array<[string, ...Array<string | number>]> = []
  const wants: Array<{queue: number; what: 'oldest' | 'failed'; id: string}> = []
  partial.forEach((p, i) => {
    if (p.oldestId) {
      second.push(['HMGET', `${p.ref.prefix}:${p.ref.name}:${p.oldestId}`, 'timestamp'])
      wants.push({queue: i, what: 'oldest', id: p.oldestId})
    }
    if (p.failed > 0 && opts.failureSamples > 0) {
      second.push(['ZREVRANGE', `${p.ref.prefix}:${p.ref.name}:failed`, 0, opts.failureSamples - 1])
      wants.push({queue: i, what: 'failed', id: ''})
    }
  })
  const secondReplies = await session.pipeline(second)
  assertPermitted(second, secondReplies)
  const oldestTs = new Map<number, number>()
  const failedIds = new Map<number, string[]>()
  wants.forEach((w, j) => {
    const value = pipelineValue<unknown>(secondReplies[j])
    if (w.what === 'oldest') {
      const ts = Number((value as Array<string | null> | undefined)?.[0])
      if (Number.isFinite(ts) && ts > 0) oldestTs.set(w.queue, epochToMs(ts))
    } else failedIds.set(w.queue, ((value as string[] | undefined) ?? []).map(String))
  })

  // Third round trip only when there are failures to sample.
  const third: Array<[string, ...Array<string | number>]> = []
  const sampleOwners: Array<{queue: number; id: string}> = []
  for (const [queue, ids] of failedIds) {
    for (const id of ids) {
      third.push(['HMGET', `${partial[queue].ref.prefix}:${partial[queue].ref.name}:${id}`, 'failedReason', 'finishedOn', 'name'])
      sampleOwners.push({queue, id})
    }
  }
  const samples = new Map<number, FailureSample[]>()
  const thirdReplies = await session.pipeline(third)
  assertPermitted(third, thirdReplies)
  sampleOwners.forEach((o, j) => {
    const [reason, finishedOn, jobName] = pipelineValue<Array<string | null>>(thirdReplies[j]) ?? []
    const list = samples.get(o.queue) ?? []
    const at = Number(finishedOn)
    list.push({
      id: o.id,
      reason: `${jobName ? `${jobName}: ` : ''}${(reason ?? 'no failedReason recorded').split('\n')[0].slice(0, 200)}`,
      at: Number.isFinite(at) && at > 0 ? new Date(epochToMs(at)).toISOString() : undefined,
    })
    samples.set(o.queue, list)
  })

  const dbFlag = redisDbFlag(ctx.target.url)
  const states: QueueState[] = partial.map((p, i) => {
    const qualified = `${p.ref.prefix}:${p.ref.name}`
    const display = p.ref.prefix === 'bull' ? p.ref.name : qualified
    const ts = oldestTs.get(i)
    const depth = p.wait + p.prioritized + p.pausedList
    const workerCount = workers.counts ? (workers.counts.get(`${p.ref.prefix}\u0000${p.ref.name}`) ?? 0) : null
    const state: QueueState = {
      system: 'bullmq',
      name: display,
      depth,
      delayed: p.delayed,
      oldestAgeSeconds: depth === 0 ? 0 : ts !== undefined ? ageSeconds(ts, now) : null,
      ageNote: depth > 0 && ts === undefined ? 'the oldest waiting job has no timestamp field' : p.oldestFrom === 'prioritized' ? 'age of the next prioritized job (wait is empty)' : undefined,
      consumers: workerCount,
      consumersNote: workers.note ?? 'workers counted from CLIENT LIST connection names',
      inFlight: p.active,
      failed: p.failed,
      paused: p.pausedFlag || p.pausedList > 0,
      counters: p.idCounter !== null && p.idCounter !== undefined ? {arrivals: toNumber(p.idCounter)} : {},
      recentFailures: p.recentFailures,
      recentFailureSeconds: opts.recentFailureSeconds,
      failureSamples: samples.get(i),
      inspectCommand: `redis-cli${dbFlag} ZREVRANGE ${shellQuote(`${qualified}:failed`)} 0 9 && redis-cli${dbFlag} HGET ${shellQuote(`${qualified}:<jobId>`)} failedReason`,
      details: {keyPrefix: qualified, wait: p.wait, prioritized: p.prioritized, legacyPausedList: p.pausedList, completed: p.completed, layoutVersion: p.version},
    }
    if (state.paused) state.notes = ['queue is paused: workers take nothing until it is resumed']
    return state
  })
  return {states, truncated, notes}
}

export const bullmqQueuesProbe = defineQueueProbe<RedisSession>({
  id: 'queues.bullmq',
  kind: 'redis',
  system: 'bullmq',
  description: 'BullMQ queues: depth, age of the oldest waiting job, workers, active, failed, arrival rate from the id counter',
  read: readBullQueues,
  noQueues: (ctx) => `no BullMQ queues found (no <prefix>:<queue>:meta, :id or :wait keys for prefixes ${redisQueueOptions(ctx.options).bullmqPrefixes.join(', ')})`,
})
