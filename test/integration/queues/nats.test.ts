import {AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamManager} from '@nats-io/jetstream'
import {connect, type NatsConnection} from '@nats-io/transport-node'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {natsDriver} from '../../../src/drivers/nats.js'
import {natsJetStreamProbe} from '../../../src/probes/nats/jetstream.js'
import {runQueueProbe, until, type ProbeRun} from './helpers.js'

const NATS_URL = 'nats://127.0.0.1:4222'
const suffix = `${process.pid}_${Date.now().toString(36)}`
const BACKLOG = `cpq_backlog_${suffix}`
const HEALTHY = `cpq_healthy_${suffix}`

describe('NATS JetStream work queues', () => {
  let nc: NatsConnection
  let jsm: JetStreamManager
  let messages: ConsumerMessages | undefined
  let run: ProbeRun

  beforeAll(async () => {
    nc = await connect({servers: '127.0.0.1:4222'})
    jsm = await jetstreamManager(nc)
    const js = jetstream(nc)
    for (const name of [BACKLOG, HEALTHY]) {
      await jsm.streams.add({name, subjects: [`${name}.>`], retention: RetentionPolicy.Workqueue, storage: StorageType.Memory})
      await jsm.consumers.add(name, {durable_name: 'workers', ack_policy: AckPolicy.Explicit})
    }
    for (let start = 0; start < 1500; start += 100) {
      await Promise.all(Array.from({length: 100}, (_, i) => js.publish(`${BACKLOG}.job`, `job ${start + i}`)))
    }
    await Promise.all(Array.from({length: 20}, (_, i) => js.publish(`${HEALTHY}.job`, `job ${i}`)))
    // A pull consumer that takes 5 messages and never acknowledges them: in flight, and attached.
    const consumer = await js.consumers.get(HEALTHY, 'workers')
    messages = await consumer.fetch({max_messages: 5, expires: 5000})
    let held = 0
    for await (const _ of messages) if (++held === 5) break
    await until(async () => (await jsm.consumers.info(HEALTHY, 'workers')).num_ack_pending === 5, 'the pull consumer to hold 5 messages')
    run = await runQueueProbe(natsDriver, natsJetStreamProbe, {name: 'nats', kind: 'nats', url: NATS_URL})
  })

  afterAll(async () => {
    await messages?.close().catch(() => {})
    for (const name of [BACKLOG, HEALTHY]) await jsm?.streams.delete(name).catch(() => {})
    await nc?.close()
  })

  const q = (name: string) => run.queues.find((x) => x.name === name)!

  it('reads depth, in flight, attached consumers and the age of the oldest message', () => {
    expect(run.status).toBe('ok')
    expect(q(BACKLOG)).toMatchObject({depth: 1500, consumers: 0, inFlight: 0})
    expect(q(BACKLOG).oldestAgeSeconds).toBeGreaterThanOrEqual(0)
    expect(q(HEALTHY)).toMatchObject({depth: 15, consumers: 1, inFlight: 5})
    expect(q(HEALTHY).oldestAgeSeconds).toBeLessThan(60)
  })

  it('fires depth and no-consumers on the backlog and stays quiet on the consumed stream', () => {
    expect(run.findings('queue/depth', `nats:${BACKLOG}`)[0]?.severity).toBe('critical')
    expect(run.findings('queue/no-consumers', `nats:${BACKLOG}`)[0]?.severity).toBe('critical')
    for (const rule of ['queue/depth', 'queue/latency', 'queue/no-consumers']) expect(run.findings(rule, `nats:${HEALTHY}`)).toEqual([])
  })

  it('takes arrivals from last_seq over a window', async () => {
    const js = jetstream(nc)
    const windowed = await runQueueProbe(natsDriver, natsJetStreamProbe, {name: 'nats', kind: 'nats', url: NATS_URL}, {
      windowSeconds: 1,
      between: async () => {
        await Promise.all(Array.from({length: 40}, (_, i) => js.publish(`${BACKLOG}.job`, `more ${i}`)))
      },
    })
    const b = windowed.queues.find((x) => x.name === BACKLOG)!
    expect(b.netGrowth).toBe(40)
    expect(b.arrivalRate).toBeGreaterThan(0)
    expect(b.serviceRate).toBe(0)
    expect(b.draining).toBe(false)
    expect(windowed.findings('queue/growing', `nats:${BACKLOG}`)).toHaveLength(1)
    expect(windowed.findings('queue/growing', `nats:${HEALTHY}`)).toEqual([])
  })
})
