/**
 * NATS JetStream streams and consumers as queues, from STREAM.LIST and CONSUMER.LIST (paged INFO replies).
 *  - Work-queue and interest streams are queues themselves: a message stays until acknowledged, so
 *    depth = messages − Σ num_ack_pending, in flight = Σ num_ack_pending, age of the oldest = now − first_ts,
 *    arrivals = last_seq.
 *  - Limits streams are logs read by consumers: each consumer is a queue of its own, depth = num_pending,
 *    in flight = num_ack_pending; the age of its next message is not read (it would need a message GET).
 * A consumer counts as attached when a push subscription is bound, pull requests are waiting, or it delivered
 * or was acknowledged within `consumerActiveSeconds` (default 60).
 */
import type {ConsumerInfo, StreamInfo} from '@nats-io/jetstream'
import {ProbeSkip} from '../../core/errors.js'
import {ConnectionLost, DeadlineExceeded, type ProbeContext} from '../../core/probe.js'
import type {NatsSession} from '../../drivers/nats.js'
import {defineQueueProbe, type QueueRead} from '../queues/define.js'
import {ageSeconds, type QueueState} from '../queues/normalise.js'

export function natsOptions(options: Record<string, unknown>): {maxQueues: number; consumerActiveSeconds: number} {
  return {
    maxQueues: Math.max(1, Number(options.maxQueues) || 1000),
    consumerActiveSeconds: Math.max(1, Number(options.consumerActiveSeconds) || 60),
  }
}

function lastActiveMs(c: ConsumerInfo): number | undefined {
  const times = [c.delivered?.last_active, c.ack_floor?.last_active]
    .map((t) => (typeof t === 'string' ? Date.parse(t) : typeof t === 'number' && t > 0 ? t / 1e6 : NaN))
    .filter((t) => Number.isFinite(t) && t > 0)
  return times.length ? Math.max(...times) : undefined
}

function isAttached(c: ConsumerInfo, activeSeconds: number, now: number): boolean {
  if (c.push_bound || c.num_waiting > 0) return true
  const last = lastActiveMs(c)
  return last !== undefined && now - last <= activeSeconds * 1000
}

async function readJetStream(session: NatsSession, ctx: ProbeContext): Promise<QueueRead> {
  const opts = natsOptions(ctx.options)
  let jsm
  try {
    jsm = await session.jsm()
  } catch (error) {
    // No answer at all is a stalled server, not a missing JetStream: the audit must say it is incomplete.
    if (error instanceof DeadlineExceeded || error instanceof ConnectionLost) throw error
    throw new ProbeSkip(`JetStream is not enabled for this account or server (${String((error as Error).message).split('\n')[0]})`)
  }
  const streams: StreamInfo[] = []
  const lister = jsm.streams.list()
  let total = 0
  while (streams.length < opts.maxQueues) {
    session.log.record('$JS.API.STREAM.LIST')
    const page = await lister.next()
    if (page.length === 0) break
    total += page.length
    streams.push(...page)
  }
  const read = streams.slice(0, opts.maxQueues)
  const notes: string[] = []
  const truncated = Math.max(0, total - read.length)
  if (truncated > 0) notes.push(`streams beyond maxQueues (${opts.maxQueues}) not read`)

  // Consumer lists of all streams in parallel: one request each (more only past 256 consumers).
  const consumersOf = await Promise.all(read.map(async (s) => {
    if (s.state.consumer_count === 0) return [] as ConsumerInfo[]
    const list: ConsumerInfo[] = []
    const cl = jsm.consumers.list(s.config.name)
    for (;;) {
      session.log.record('$JS.API.CONSUMER.LIST')
      const page = await cl.next()
      if (page.length === 0 || list.length >= 1000) break
      list.push(...page)
    }
    return list
  }))

  const now = Date.now()
  const states: QueueState[] = []
  read.forEach((s, i) => {
    const consumers = consumersOf[i]
    const retention = String(s.config.retention)
    const consumerDetails = consumers.map((c) => ({
      name: c.name,
      numPending: c.num_pending,
      numAckPending: c.num_ack_pending,
      numRedelivered: c.num_redelivered,
      numWaiting: c.num_waiting,
      pushBound: c.push_bound ?? false,
      lastActive: lastActiveMs(c) ? new Date(lastActiveMs(c)!).toISOString() : null,
    }))
    if (retention === 'workqueue' || retention === 'interest') {
      const ackPending = consumers.reduce((n, c) => n + c.num_ack_pending, 0)
      const depth = Math.max(0, s.state.messages - ackPending)
      const firstTs = Date.parse(s.state.first_ts)
      states.push({
        system: 'nats',
        name: s.config.name,
        depth,
        oldestAgeSeconds: depth === 0 ? 0 : Number.isFinite(firstTs) && firstTs > 0 ? ageSeconds(firstTs, now) : null,
        ageNote: depth > 0 ? 'age of the oldest message kept in the stream (it may be in flight)' : undefined,
        consumers: consumers.filter((c) => isAttached(c, opts.consumerActiveSeconds, now)).length,
        consumersNote: `${consumers.length} JetStream consumers defined; attached = push bound, pull requests waiting, or active in the last ${opts.consumerActiveSeconds} s`,
        inFlight: ackPending,
        // JetStream keeps no dead-letter count: max_deliver exhaustion is only an advisory event.
        failed: null,
        counters: {arrivals: s.state.last_seq},
        details: {retention, bytes: s.state.bytes, messages: s.state.messages, firstSeq: s.state.first_seq, lastSeq: s.state.last_seq, redelivered: consumers.reduce((n, c) => n + c.num_redelivered, 0), consumers: consumerDetails},
      })
      return
    }
    // Limits retention: the stream is a log; each consumer is the queue.
    for (const [j, c] of consumers.entries()) {
      states.push({
        system: 'nats',
        name: `${s.config.name}/${c.name}`,
        depth: c.num_pending,
        oldestAgeSeconds: c.num_pending === 0 ? 0 : null,
        ageNote: c.num_pending > 0 ? 'unknown: the time of the next undelivered message is not read for limits streams' : undefined,
        consumers: isAttached(c, opts.consumerActiveSeconds, now) ? 1 : 0,
        consumersNote: `attached = push bound, pull requests waiting, or active in the last ${opts.consumerActiveSeconds} s`,
        inFlight: c.num_ack_pending,
        failed: null,
        // Acknowledged deliveries (contiguous floor) leave; arrivals follow by conservation over the window.
        counters: {departures: c.ack_floor?.consumer_seq ?? 0},
        details: {retention, stream: s.config.name, ...consumerDetails[j]},
      })
    }
  })
  return {states, truncated, notes}
}

export const natsJetStreamProbe = defineQueueProbe<NatsSession>({
  id: 'nats.jetstream',
  kind: 'nats',
  system: 'nats',
  description: 'JetStream streams and consumers: pending, ack pending, redelivered, consumer activity, age of the oldest message',
  read: readJetStream,
  noQueues: () => 'no work-queue or interest streams and no consumers found in JetStream',
})
