/**
 * RabbitMQ queues. With the management API: GET /api/queues/<vhost> (paged) gives, per queue, messages_ready,
 * messages_unacknowledged, consumers, head_message_timestamp (when publishers set the timestamp property) and
 * message_stats counters and rates (publish, ack, deliver_no_ack); GET /api/bindings/<vhost> maps each
 * dead-letter exchange (x-dead-letter-exchange argument or dead-letter-exchange policy) to the queues that
 * collect its messages. Without the API, queues listed in options.queues are read by AMQP passive declare:
 * ready count and consumers only.
 */
import {ProbeSkip} from '../../core/errors.js'
import {shellWord} from '../../core/shell.js'
import type {Probe, ProbeContext} from '../../core/probe.js'
import type {RabbitSession} from '../../drivers/rabbitmq.js'
import {defineQueueProbe, type QueueRead} from '../queues/define.js'
import {ageSeconds, type QueueState} from '../queues/normalise.js'

interface ApiQueue {
  name: string
  vhost: string
  type?: string
  state?: string
  messages_ready?: number
  messages_unacknowledged?: number
  consumers?: number
  head_message_timestamp?: number | null
  arguments?: Record<string, unknown>
  effective_policy_definition?: Record<string, unknown> | []
  message_stats?: Record<string, unknown>
}

interface ApiBinding {
  source: string
  destination: string
  destination_type: string
  routing_key: string
}

export const MANAGEMENT_ONLY = 'arrival and service rates, unacknowledged (in-flight) counts, head message age and dead-letter counts'

function stat(stats: Record<string, unknown> | undefined, name: string): number | undefined {
  const v = stats?.[name]
  return typeof v === 'number' ? v : undefined
}

function rate(stats: Record<string, unknown> | undefined, name: string): number | undefined {
  const d = stats?.[`${name}_details`] as {rate?: number} | undefined
  return typeof d?.rate === 'number' ? d.rate : undefined
}

function sum(...values: Array<number | undefined>): number | undefined {
  const present = values.filter((v): v is number => v !== undefined)
  return present.length ? present.reduce((a, b) => a + b, 0) : undefined
}

function deadLetterExchange(q: ApiQueue): string | undefined {
  const fromArgs = q.arguments?.['x-dead-letter-exchange']
  const policy = Array.isArray(q.effective_policy_definition) ? undefined : q.effective_policy_definition?.['dead-letter-exchange']
  const dlx = fromArgs ?? policy
  return typeof dlx === 'string' ? dlx : undefined
}

export function rabbitOptions(options: Record<string, unknown>): {queues: string[]; maxQueues: number} {
  const queues = Array.isArray(options.queues) ? options.queues.map(String) : []
  return {queues, maxQueues: Math.max(1, Number(options.maxQueues) || 1000)}
}

async function listQueues(session: RabbitSession, maxQueues: number): Promise<{queues: ApiQueue[]; total: number}> {
  const vhost = encodeURIComponent(session.vhost)
  const pageSize = Math.min(500, maxQueues)
  const columns = ['name', 'vhost', 'type', 'state', 'messages_ready', 'messages_unacknowledged', 'consumers', 'head_message_timestamp',
    'arguments', 'effective_policy_definition', 'message_stats'].join(',')
  const queues: ApiQueue[] = []
  let total = 0
  for (let page = 1; queues.length < maxQueues; page++) {
    const reply = await session.getJson<{items: ApiQueue[]; page_count: number; total_count: number; filtered_count?: number}>(
      `/api/queues/${vhost}?page=${page}&page_size=${pageSize}&sort=name&columns=${columns}`)
    total = reply.filtered_count ?? reply.total_count
    queues.push(...reply.items)
    if (page >= reply.page_count || reply.items.length === 0) break
  }
  return {queues: queues.slice(0, maxQueues), total}
}

async function readWithManagement(session: RabbitSession): Promise<QueueRead> {
  const opts = {maxQueues: 1000}
  const {queues, total} = await listQueues(session, opts.maxQueues)
  const notes: string[] = []
  const truncated = Math.max(0, total - queues.length)
  if (truncated > 0) notes.push(`${truncated} queues beyond maxQueues (${opts.maxQueues}) not read`)

  // Dead-letter exchanges -> the queues bound to them (their depth is the source queue's dead-letter count).
  const dlxBySource = new Map(queues.map((q) => [q.name, deadLetterExchange(q)]))
  const dlxTargets = new Map<string, string[]>()
  if ([...dlxBySource.values()].some(Boolean)) {
    const bindings = await session.getJson<ApiBinding[]>(`/api/bindings/${encodeURIComponent(session.vhost)}`)
    for (const b of bindings) {
      if (b.destination_type !== 'queue') continue
      dlxTargets.set(b.source, [...(dlxTargets.get(b.source) ?? []), b.destination])
    }
  }
  const byName = new Map(queues.map((q) => [q.name, q]))
  const dlqOf = new Map<string, string[]>()
  const now = Date.now()
  const states = queues.map((q): QueueState => {
    const dlx = dlxBySource.get(q.name)
    // The default exchange ('') routes by queue name: the dead-letter routing key names the queue.
    const routingKey = q.arguments?.['x-dead-letter-routing-key']
    const dlqs = dlx === undefined ? [] : dlx === '' ? (typeof routingKey === 'string' ? [routingKey] : []) : (dlxTargets.get(dlx) ?? [])
    for (const d of dlqs) dlqOf.set(d, [...(dlqOf.get(d) ?? []), q.name])
    const failed = dlx === undefined ? null : dlqs.reduce((n, d) => n + (byName.get(d)?.messages_ready ?? 0) + (byName.get(d)?.messages_unacknowledged ?? 0), 0)
    const s = q.message_stats
    const depth = q.messages_ready ?? 0
    const head = typeof q.head_message_timestamp === 'number' ? q.head_message_timestamp * 1000 : undefined
    const stateNotes: string[] = []
    if (!s) stateNotes.push('no message_stats yet (no traffic since the stats were reset, or management.disable_stats)')
    return {
      system: 'rabbitmq',
      name: q.name,
      depth,
      oldestAgeSeconds: depth === 0 ? 0 : head !== undefined ? ageSeconds(head, now) : null,
      ageNote: depth > 0 && head === undefined ? 'unknown: head_message_timestamp is absent (publishers do not set the timestamp property)' : undefined,
      consumers: q.consumers ?? 0,
      consumersNote: 'RabbitMQ consumers',
      inFlight: q.messages_unacknowledged ?? 0,
      failed,
      counters: {arrivals: stat(s, 'publish'), departures: sum(stat(s, 'ack'), stat(s, 'deliver_no_ack'), stat(s, 'get_no_ack'))},
      reportedRates: s ? {arrival: rate(s, 'publish') ?? 0, service: sum(rate(s, 'ack'), rate(s, 'deliver_no_ack'), rate(s, 'get_no_ack')) ?? 0} : undefined,
      inspectCommand: dlqs.length ? `rabbitmqadmin --vhost=${shellWord(session.vhost)} list queues name messages | grep -F ${dlqs.map((d) => `-e ${shellWord(d)}`).join(' ')}` : undefined,
      notes: stateNotes.length ? stateNotes : undefined,
      details: {type: q.type, state: q.state, deadLetterExchange: dlx ?? null, deadLetterQueues: dlqs, redelivered: stat(s, 'redeliver') ?? null,
        publishRate: rate(s, 'publish') ?? null, deliverGetRate: rate(s, 'deliver_get') ?? null, ackRate: rate(s, 'ack') ?? null},
    }
  })
  for (const state of states) {
    const sources = dlqOf.get(state.name)
    if (!sources) continue
    // A dead-letter queue parks messages for people: no consumer is expected on it.
    state.consumers = null
    state.consumersNote = `dead-letter queue of ${sources.join(', ')}: consumers not expected`
    state.details = {...state.details, deadLetterQueueFor: sources}
  }
  return {states, truncated, notes}
}

async function readWithPassiveDeclare(session: RabbitSession, ctx: ProbeContext): Promise<QueueRead> {
  const opts = rabbitOptions(ctx.options)
  const names = opts.queues.slice(0, opts.maxQueues)
  const notes = [`${session.management.reason}: ${MANAGEMENT_ONLY} need the rabbitmq_management plugin; depth and consumers come from AMQP passive declares of options.queues`]
  if (names.length === 0) {
    throw new ProbeSkip(`${session.management.reason}, and without it queues cannot be listed: name them in the target's options.queues to read their depth and consumers by passive declare`)
  }
  const replies = await Promise.all(names.map((name) => session.passiveDeclare(name)))
  const states: QueueState[] = []
  names.forEach((name, i) => {
    const r = replies[i]
    if ('error' in r) {
      notes.push(r.error)
      return
    }
    states.push({
      system: 'rabbitmq',
      name,
      depth: r.messageCount,
      oldestAgeSeconds: r.messageCount === 0 ? 0 : null,
      ageNote: r.messageCount > 0 ? 'unknown: head message age needs the management plugin' : undefined,
      consumers: r.consumerCount,
      consumersNote: 'RabbitMQ consumers (passive declare)',
      inFlight: null,
      failed: null,
      counters: {},
      notes: [`${MANAGEMENT_ONLY} need the management plugin`],
    })
  })
  return {states, truncated: opts.queues.length - names.length, notes}
}

// An empty broker is a reading, not a skip: without the management API an empty read has already been skipped
// with the fix (name the queues), and with it no queues is what the broker has.
export const rabbitmqQueuesProbe = defineQueueProbe<RabbitSession>({
  id: 'rabbitmq.queues',
  kind: 'rabbitmq',
  system: 'rabbitmq',
  description: 'RabbitMQ queues: ready, unacked, consumers, publish/ack rates, head message age, dead-letter queues',
  read: (session, ctx) => (session.management.available ? readWithManagement(session) : readWithPassiveDeclare(session, ctx)),
  // A configured queue that does not exist is the user's mistake to see, not a queue to leave out silently.
  failure: (read) => read.notes.filter((n) => n.includes('not found')).join('; ') || undefined,
})

/**
 * Says in the report, as a skipped reading, what a broker without the management API cannot tell; with the API it
 * reads the broker-wide totals and rates.
 */
export const rabbitmqManagementProbe: Probe<RabbitSession> = {
  id: 'rabbitmq.management',
  kind: 'rabbitmq',
  description: 'Management API availability and broker-wide message totals and rates',
  async collect(session) {
    if (!session.management.available) {
      throw new ProbeSkip(`${session.management.reason}: ${MANAGEMENT_ONLY} need the rabbitmq_management plugin (and a user tagged 'monitoring'); depth and consumers come from passive declares`)
    }
    const overview = await session.getJson<{queue_totals?: Record<string, number>; message_stats?: Record<string, unknown>; object_totals?: Record<string, number>}>('/api/overview')
    return {
      data: {queueTotals: overview.queue_totals, objectTotals: overview.object_totals, publishRate: rate(overview.message_stats, 'publish') ?? null, ackRate: rate(overview.message_stats, 'ack') ?? null},
      metrics: [],
    }
  },
}
