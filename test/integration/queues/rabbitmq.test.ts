import amqp, {type Channel, type ChannelModel} from 'amqplib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runAudit} from '../../../src/index.js'
import {rabbitmqDriver} from '../../../src/drivers/rabbitmq.js'
import {rabbitmqQueuesProbe} from '../../../src/probes/rabbitmq/queues.js'
import {freePort} from '../../helpers/process.js'
import {runQueueProbe, until, type ProbeRun} from './helpers.js'

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'
const MGMT = 'http://127.0.0.1:15672'
const auth = {authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`}
const suffix = `${process.pid}_${Date.now().toString(36)}`
const BACKLOG = `cpq_backlog_${suffix}`
const HEALTHY = `cpq_healthy_${suffix}`
const WORK = `cpq_work_${suffix}`
const DLX = `cpq_dlx_${suffix}`
const DLQ = `cpq_dlq_${suffix}`

/** The management API refreshes queue figures every few seconds: wait until it shows what AMQP did. */
async function managementShows(queue: string, check: (q: Record<string, number>) => boolean): Promise<void> {
  await until(async () => {
    const r = await fetch(`${MGMT}/api/queues/%2F/${encodeURIComponent(queue)}`, {headers: auth})
    return r.ok && check((await r.json()) as Record<string, number>)
  }, `management API to show ${queue}`, 30_000)
}

describe('RabbitMQ queues', () => {
  let conn: ChannelModel
  let ch: Channel
  let consumerConn: ChannelModel
  let run: ProbeRun

  beforeAll(async () => {
    conn = await amqp.connect(AMQP_URL)
    ch = await conn.createChannel()
    await ch.assertQueue(BACKLOG, {durable: false})
    await ch.assertQueue(HEALTHY, {durable: false})
    await ch.assertExchange(DLX, 'fanout', {durable: false})
    await ch.assertQueue(DLQ, {durable: false})
    await ch.bindQueue(DLQ, DLX, '')
    await ch.assertQueue(WORK, {durable: false, arguments: {'x-dead-letter-exchange': DLX}})
    for (let i = 0; i < 1500; i++) ch.sendToQueue(BACKLOG, Buffer.from(`job ${i}`), {timestamp: Math.floor(Date.now() / 1000) - 600})
    for (let i = 0; i < 20; i++) ch.sendToQueue(HEALTHY, Buffer.from(`job ${i}`))
    for (let i = 0; i < 5; i++) ch.sendToQueue(WORK, Buffer.from(`job ${i}`))
    // A consumer on the healthy queue that holds 5 messages unacknowledged (prefetch 5, never acks).
    consumerConn = await amqp.connect(AMQP_URL)
    const cch = await consumerConn.createChannel()
    await cch.prefetch(5)
    await cch.consume(HEALTHY, () => {}, {noAck: false})
    // Two messages of the work queue rejected into its dead-letter queue.
    const rejecter = await conn.createChannel()
    for (let i = 0; i < 2; i++) {
      const msg = await rejecter.get(WORK, {noAck: false})
      if (msg) rejecter.reject(msg, false)
    }
    await rejecter.close()
    await managementShows(BACKLOG, (q) => q.messages_ready === 1500)
    await managementShows(HEALTHY, (q) => q.messages_unacknowledged === 5 && q.consumers === 1)
    await managementShows(DLQ, (q) => q.messages_ready === 2)
    run = await runQueueProbe(rabbitmqDriver, rabbitmqQueuesProbe, {name: 'rabbit', kind: 'rabbitmq', url: AMQP_URL})
  })

  afterAll(async () => {
    await consumerConn?.close().catch(() => {})
    for (const q of [BACKLOG, HEALTHY, WORK, DLQ]) await ch?.deleteQueue(q).catch(() => {})
    await ch?.deleteExchange(DLX).catch(() => {})
    await conn?.close().catch(() => {})
  })

  const q = (name: string) => run.queues.find((x) => x.name === name)!

  it('reads ready, unacked, consumers, head age and dead-letter counts from the management API', () => {
    expect(run.status).toBe('ok')
    expect(q(BACKLOG)).toMatchObject({depth: 1500, consumers: 0, inFlight: 0})
    expect(q(BACKLOG).oldestAgeSeconds).toBeGreaterThan(590)
    expect(q(HEALTHY)).toMatchObject({depth: 15, consumers: 1, inFlight: 5})
    expect(q(WORK)).toMatchObject({depth: 3, failed: 2})
    expect(q(DLQ).consumers).toBeNull()
  })

  it('fires depth, latency and no-consumers on the backlog and stays quiet on the consumed queue', () => {
    expect(run.findings('queue/depth', `rabbitmq:${BACKLOG}`)[0]?.severity).toBe('critical')
    expect(run.findings('queue/latency', `rabbitmq:${BACKLOG}`)[0]?.severity).toBe('critical')
    expect(run.findings('queue/no-consumers', `rabbitmq:${BACKLOG}`)[0]?.severity).toBe('critical')
    for (const rule of ['queue/depth', 'queue/latency', 'queue/no-consumers']) expect(run.findings(rule, `rabbitmq:${HEALTHY}`)).toEqual([])
    // A dead-letter queue parks messages: no consumer is expected there.
    expect(run.findings('queue/no-consumers', `rabbitmq:${DLQ}`)).toEqual([])
  })

  it('counts dead-lettered messages over a window', async () => {
    const windowed = await runQueueProbe(rabbitmqDriver, rabbitmqQueuesProbe, {name: 'rabbit', kind: 'rabbitmq', url: AMQP_URL}, {
      windowSeconds: 1,
      between: async () => {
        const rejecter = await conn.createChannel()
        for (let i = 0; i < 3; i++) {
          const msg = await rejecter.get(WORK, {noAck: false})
          if (msg) rejecter.reject(msg, false)
        }
        await rejecter.close()
        await managementShows(DLQ, (x) => x.messages_ready === 5)
      },
    })
    const work = windowed.queues.find((x) => x.name === WORK)!
    expect(work.deadLetterGrowth).toBe(3)
    expect(windowed.findings('queue/dead-letter-growth', `rabbitmq:${WORK}`)[0]?.severity).toBe('warning')
    expect(windowed.findings('queue/dead-letter-growth', `rabbitmq:${BACKLOG}`)).toEqual([])
  })

  it('without the management API, reads depth and consumers by passive declare and says what needs the plugin', async () => {
    const closed = await freePort()
    const target = {name: 'rabbit-nomgmt', kind: 'rabbitmq' as const, url: AMQP_URL, options: {managementUrl: `http://127.0.0.1:${closed}`, queues: [BACKLOG, HEALTHY]}}
    const passive = await runQueueProbe(rabbitmqDriver, rabbitmqQueuesProbe, target)
    expect(passive.status).toBe('ok')
    expect(passive.queues.find((x) => x.name === BACKLOG)).toMatchObject({depth: 1500, consumers: 0, inFlight: null, oldestAgeSeconds: null})
    expect(passive.queues.find((x) => x.name === HEALTHY)).toMatchObject({consumers: 1})
    expect(passive.findings('queue/depth', `rabbitmq:${BACKLOG}`)[0]?.severity).toBe('critical')
    expect(passive.findings('queue/no-consumers', `rabbitmq:${BACKLOG}`)[0]?.severity).toBe('critical')
    expect(passive.findings('queue/depth', `rabbitmq:${HEALTHY}`)).toEqual([])

    // Through the whole audit: complete (exit 0 would need no findings; the gate fails on the backlog, not on the plugin).
    const {report} = await runAudit({targets: [target], windowSeconds: 0, failOn: 'never'})
    expect(report.gate.incomplete).toBe(false)
    expect(report.gate.exitCode).toBe(0)
    const note = report.skipped.find((s) => s.probe === 'rabbitmq.management')
    expect(note?.status).toBe('skipped')
    expect(note?.reason).toMatch(/rates.*unacknowledged.*need the rabbitmq_management plugin/)
  })

  it('a refused login is a clear target error; the rest of the audit completes with exit 3', async () => {
    const {report} = await runAudit({
      targets: [
        {name: 'rabbit-bad', kind: 'rabbitmq', url: 'amqp://cpq_auditor:wrong-password@127.0.0.1:5672'},
        {name: 'rabbit-good', kind: 'rabbitmq', url: AMQP_URL},
      ],
      windowSeconds: 0,
      failOn: 'never',
    })
    const bad = report.targets.find((t) => t.name === 'rabbit-bad')!
    expect(bad.status).toBe('error')
    expect(bad.error).toContain("RabbitMQ refused the login for user 'cpq_auditor': check the user and password")
    expect(JSON.stringify(report)).not.toContain('wrong-password')
    expect(report.targets.find((t) => t.name === 'rabbit-good')!.status).toBe('ok')
    expect(report.findings.some((f) => f.target === 'rabbit-good' && f.subject === `rabbitmq:${BACKLOG}`)).toBe(true)
    expect(report.gate.exitCode).toBe(3)
  })
})
