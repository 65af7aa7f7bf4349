/**
 * Sidekiq's data in Redis (lib/sidekiq/api.rb, client.rb, fetch.rb, launcher.rb), read-only:
 *   queues                 set of queue names
 *   queue:<name>           list, LPUSH by clients and BRPOP by processes: the oldest job is at index -1
 *   schedule, retry, dead  zsets scored by time (dead: the time the job died; retry: the time of the next attempt,
 *                          the job's retried_at / failed_at being when it last failed)
 *   processes              set of process identities; <identity> hash {info (JSON with queues and concurrency),
 *                          busy, beat, quiet}, expiring 60 s after the last heartbeat; <identity>:work in flight
 *   stat:processed         counter of processed jobs (all queues): the service rate over a window
 * Job payloads are JSON with enqueued_at in float seconds before Sidekiq 8 and integer milliseconds since.
 * An optional namespace (redis-namespace) prefixes every key.
 */
import type {ProbeContext} from '../../core/probe.js'
import type {RedisSession} from '../../drivers/redis.js'
import {capQueues, defineQueueProbe, type QueueRead} from './define.js'
import {ageSeconds, epochToMs, type FailureSample, type QueueState} from './normalise.js'
import {assertPermitted, pipelineValue, redisDbFlag, redisQueueOptions, sendOrSkip, shellQuote, toNumber} from './redis-discovery.js'

const MAX_PROCESSES = 200

interface SidekiqProcess {
  identity: string
  queues: string[]
  concurrency: number
  busy: number
  quiet: boolean
}

function parseJob(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw !== 'string') return undefined
  try {
    const job = JSON.parse(raw)
    return job && typeof job === 'object' ? (job as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

/** A job's failure as Sidekiq records it: error_class, error_message, failed_at (seconds or ms). */
function failureOf(raw: unknown, where: string): FailureSample | undefined {
  const job = parseJob(raw)
  if (!job) return undefined
  const at = Number(job.failed_at)
  const reason = `${job.class ?? 'job'}: ${job.error_class ? `${job.error_class}: ` : ''}${String(job.error_message ?? 'no error_message recorded').split('\n')[0].slice(0, 200)}`
  return {id: `${where} ${String(job.jid ?? '?')} (queue ${String(job.queue ?? '?')})`, reason, at: Number.isFinite(at) && at > 0 ? new Date(epochToMs(at)).toISOString() : undefined}
}

export async function readSidekiq(session: RedisSession, ctx: ProbeContext): Promise<QueueRead> {
  const opts = redisQueueOptions(ctx.options)
  const ns = opts.sidekiqNamespace ? `${opts.sidekiqNamespace}:` : ''
  const notes: string[] = []
  const names = ((await sendOrSkip<string[]>(session, 'SMEMBERS', `${ns}queues`)) ?? []).map(String).sort()
  if (names.length === 0) return {states: [], truncated: 0, notes}
  const {kept: read, truncated} = capQueues(names, opts.maxQueues, 'Sidekiq queues', notes)

  const nowMs = Date.now()
  const recentS = nowMs / 1000 - opts.recentFailureSeconds
  const commands: Array<[string, ...Array<string | number>]> = []
  for (const name of read) commands.push(['LLEN', `${ns}queue:${name}`], ['LINDEX', `${ns}queue:${name}`, -1])
  const globalsAt = commands.length
  commands.push(
    ['ZCARD', `${ns}retry`],
    ['ZCARD', `${ns}dead`],
    ['ZCARD', `${ns}schedule`],
    ['GET', `${ns}stat:processed`],
    ['SMEMBERS', `${ns}processes`],
    // dead is scored by the time of death; seconds and milliseconds ranges do not overlap, so both are counted.
    ['ZCOUNT', `${ns}dead`, recentS, nowMs / 1000 + 86_400],
    ['ZCOUNT', `${ns}dead`, nowMs - opts.recentFailureSeconds * 1000, '+inf'],
    ['ZREVRANGE', `${ns}dead`, 0, Math.max(0, opts.failureSamples - 1)],
    ['ZRANGE', `${ns}retry`, 0, Math.max(0, opts.failureSamples - 1)],
    // The retry set is scored by the next attempt, which comes soonest for the newest failures (the backoff grows
    // with the retry count): the retryScanLimit soonest are read and each is dated by its latest failure. ZRANGE by
    // rank, not ZRANGEBYSCORE, so the documented minimal ACL (+zrange) covers it on every Redis version.
    ['ZRANGE', `${ns}retry`, 0, opts.retryScanLimit - 1],
  )
  const replies = await session.pipeline(commands)
  assertPermitted(commands, replies)
  const g = (i: number) => pipelineValue<unknown>(replies[globalsAt + i])
  const retry = toNumber(g(0))
  const dead = toNumber(g(1))
  const scheduled = toNumber(g(2))
  const processed = toNumber(g(3))
  const identities = ((g(4) as string[] | undefined) ?? []).map(String).slice(0, MAX_PROCESSES)
  const recentDead = toNumber(g(5)) + toNumber(g(6))
  const retryCandidates = ((g(9) as string[] | undefined) ?? []).map(String)
  const recentRetries = retryCandidates.filter((raw) => {
    const job = parseJob(raw)
    const last = Math.max(Number(job?.retried_at) || 0, Number(job?.failed_at) || 0)
    return last > 0 && epochToMs(last) >= nowMs - opts.recentFailureSeconds * 1000
  }).length
  // More retries wait than were read: those not read may have failed recently too, so the count is a floor.
  const retryLowerBound = retry > retryCandidates.length
  const samples = [
    ...((g(7) as string[] | undefined) ?? []).map((raw) => failureOf(raw, 'dead')),
    ...((g(8) as string[] | undefined) ?? []).map((raw) => failureOf(raw, 'retry')),
  ].filter((s): s is FailureSample => !!s).slice(0, opts.failureSamples)

  // Second round trip: the live processes (a dead process's hash has expired) and their in-flight work.
  const processes: SidekiqProcess[] = []
  if (identities.length > 0) {
    const procCommands = identities.map((id): [string, ...Array<string | number>] => ['HMGET', `${ns}${id}`, 'info', 'busy', 'quiet'])
    const procReplies = await session.pipeline(procCommands)
    assertPermitted(procCommands, procReplies)
    identities.forEach((identity, i) => {
      const [info, busy, quiet] = pipelineValue<Array<string | null>>(procReplies[i]) ?? []
      const parsed = parseJob(info)
      if (!parsed) return
      processes.push({
        identity,
        queues: Array.isArray(parsed.queues) ? parsed.queues.map(String) : [],
        concurrency: toNumber(parsed.concurrency),
        busy: toNumber(busy),
        quiet: quiet === 'true',
      })
    })
  }

  const dbFlag = redisDbFlag(ctx.target.url)
  const states: QueueState[] = read.map((name, i) => {
    const depth = toNumber(pipelineValue(replies[2 * i]))
    const oldest = parseJob(pipelineValue(replies[2 * i + 1]))
    const enqueuedAt = Number(oldest?.enqueued_at ?? oldest?.created_at)
    const listening = processes.filter((p) => !p.quiet && p.queues.includes(name))
    return {
      system: 'sidekiq',
      name,
      depth,
      oldestAgeSeconds: depth === 0 ? 0 : Number.isFinite(enqueuedAt) && enqueuedAt > 0 ? ageSeconds(epochToMs(enqueuedAt), nowMs) : null,
      ageNote: depth > 0 && !(enqueuedAt > 0) ? 'the oldest job has no enqueued_at' : undefined,
      // Threads of live, non-quiet processes that fetch from this queue.
      consumers: listening.reduce((n, p) => n + p.concurrency, 0),
      consumersNote: `threads of ${listening.length} live Sidekiq processes listening to '${name}' (${processes.length} live in all)`,
      inFlight: null,
      failed: null,
      counters: {},
      details: {key: `${ns}queue:${name}`},
    }
  })
  // retry, dead, schedule, processed and busy threads belong to all queues together.
  states.push({
    system: 'sidekiq',
    name: '*',
    aggregate: true,
    depth: states.reduce((n, s) => n + s.depth, 0),
    delayed: scheduled,
    oldestAgeSeconds: null,
    consumers: processes.reduce((n, p) => n + p.concurrency, 0),
    inFlight: processes.reduce((n, p) => n + p.busy, 0),
    failed: retry + dead,
    counters: {departures: processed},
    recentFailures: recentDead + recentRetries,
    recentFailureSeconds: opts.recentFailureSeconds,
    ...(retryLowerBound ? {recentFailuresLowerBound: true} : {}),
    failureSamples: samples,
    inspectCommand: `redis-cli${dbFlag} ZREVRANGE ${shellQuote(`${ns}dead`)} 0 4 && redis-cli${dbFlag} ZRANGE ${shellQuote(`${ns}retry`)} 0 4`,
    details: {retry, dead, scheduled, processed, liveProcesses: processes.length, recentDead, recentRetries},
  })
  return {states, truncated, notes}
}

export const sidekiqQueuesProbe = defineQueueProbe<RedisSession>({
  id: 'queues.sidekiq',
  kind: 'redis',
  system: 'sidekiq',
  description: 'Sidekiq queues: depth, latency from enqueued_at, threads listening, retry/dead sets, processed counter',
  read: readSidekiq,
  noQueues(ctx) {
    const ns = redisQueueOptions(ctx.options).sidekiqNamespace
    return `no Sidekiq queues found (the '${ns ? `${ns}:` : ''}queues' set is empty or absent)`
  },
})
