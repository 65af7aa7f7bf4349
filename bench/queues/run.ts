/**
 * Queue probe benchmarks; results in bench/results/queues.json.
 * (a) BullMQ: 100 queues (20 waiting jobs each, a few failed and delayed) on a private redis-server, created with
 *     the real bullmq package. The probe is timed end to end (connect -> collect -> close) over REPS runs, with its
 *     round trips; compared in the same run with a naive reader that sends the same per-queue commands one by one.
 * (b) RabbitMQ: 100 queues with messages; the rabbitmq.queues probe through the management API, same timing.
 * Run: npx tsx bench/queues/run.ts
 */
import {writeFileSync, mkdirSync} from 'node:fs'
import {cpus} from 'node:os'
import amqp from 'amqplib'
import {Queue} from 'bullmq'
import {CommandLog, type Driver, type Probe} from '../../src/core/probe.js'
import type {TargetSpec} from '../../src/core/types.js'
import {rabbitmqDriver} from '../../src/drivers/rabbitmq.js'
import {redisDriver, RedisSession} from '../../src/drivers/redis.js'
import {bullmqQueuesProbe} from '../../src/probes/queues/bullmq.js'
import {rabbitmqQueuesProbe} from '../../src/probes/rabbitmq/queues.js'
import {startRedis} from '../../test/helpers/redis-server.js'

const QUEUES = 100
const JOBS = 20
const REPS = 9
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6

async function timeProbe<C>(driver: Driver<C>, probe: Probe<C>, target: TargetSpec) {
  const runs: number[] = []
  let roundTrips = 0
  let queues = 0
  for (let i = 0; i < REPS; i++) {
    const log = new CommandLog()
    const t0 = process.hrtime.bigint()
    const {conn} = await driver.connect(target, log)
    const out = await probe.collect(conn, {target, windowSeconds: 0, options: target.options ?? {}, log: () => {}}, undefined)
    await driver.close(conn)
    runs.push(ms(t0))
    roundTrips = log.roundTrips
    queues = (out.data as {queues: unknown[]}).queues.length
  }
  return {queues, medianMs: Math.round(median(runs) * 10) / 10, runsMs: runs.map((r) => Math.round(r * 10) / 10), roundTrips}
}

/** The same reads as the probe, one command per round trip: what a per-queue loop would cost. */
async function naiveBull(url: string) {
  const runs: number[] = []
  let roundTrips = 0
  for (let i = 0; i < REPS; i++) {
    const log = new CommandLog()
    const t0 = process.hrtime.bigint()
    const s = await RedisSession.open(url, log)
    const names: string[] = []
    let cursor = '0'
    do {
      const [next, keys] = await s.send<[string, string[]]>('SCAN', cursor, 'MATCH', 'bull:*:meta', 'COUNT', 100)
      cursor = next
      for (const k of keys) names.push(k.slice(5, -5))
    } while (cursor !== '0')
    for (const n of names) {
      const k = (x: string) => `bull:${n}:${x}`
      await s.send('LLEN', k('wait'))
      await s.send('ZCARD', k('prioritized'))
      await s.send('LLEN', k('paused'))
      await s.send('LLEN', k('active'))
      await s.send('ZCARD', k('delayed'))
      await s.send('ZCARD', k('failed'))
      await s.send('ZCARD', k('completed'))
      await s.send('HMGET', k('meta'), 'paused', 'version')
      await s.send('GET', k('id'))
      const tail = await s.send<string[]>('LRANGE', k('wait'), -2, -1)
      await s.send('LRANGE', k('paused'), -2, -1)
      await s.send('ZRANGE', k('prioritized'), 0, 0)
      await s.send('ZCOUNT', k('failed'), Date.now() - 300_000, '+inf')
      if (tail.length) await s.send('HMGET', `bull:${n}:${tail.at(-1)}`, 'timestamp')
    }
    await s.close()
    runs.push(ms(t0))
    roundTrips = log.roundTrips
  }
  return {medianMs: Math.round(median(runs) * 10) / 10, runsMs: runs.map((r) => Math.round(r * 10) / 10), roundTrips}
}

async function bullmq() {
  const server = await startRedis()
  try {
    const connection = {host: '127.0.0.1', port: server.port}
    for (let i = 0; i < QUEUES; i++) {
      const q = new Queue(`cpq_bench_${String(i).padStart(3, '0')}`, {connection})
      await q.addBulk(Array.from({length: JOBS}, (_, j) => ({name: 'job', data: {j}})))
      if (i % 10 === 0) await q.add('later', {}, {delay: 60_000})
      await q.close()
    }
    const target: TargetSpec = {name: 'bench', kind: 'redis', url: server.url}
    const probe = await timeProbe(redisDriver, bullmqQueuesProbe, target)
    const naive = await naiveBull(server.url)
    return {queues: QUEUES, jobsPerQueue: JOBS, keys: QUEUES * (JOBS + 4), probe, naivePerQueueCommands: naive, speedup: Math.round((naive.medianMs / probe.medianMs) * 10) / 10}
  } finally {
    await server.stop()
  }
}

async function rabbitmq() {
  const conn = await amqp.connect('amqp://guest:guest@127.0.0.1:5672')
  const ch = await conn.createChannel()
  const names = Array.from({length: QUEUES}, (_, i) => `cpq_bench_${process.pid}_${String(i).padStart(3, '0')}`)
  try {
    for (const n of names) {
      await ch.assertQueue(n, {durable: false})
      for (let j = 0; j < JOBS; j++) ch.sendToQueue(n, Buffer.from('x'))
    }
    await new Promise((r) => setTimeout(r, 6000)) // management stats refresh every 5 s
    const target: TargetSpec = {name: 'bench', kind: 'rabbitmq', url: 'amqp://guest:guest@127.0.0.1:5672'}
    const probe = await timeProbe(rabbitmqDriver, rabbitmqQueuesProbe, target)
    const passiveTarget: TargetSpec = {...target, options: {managementUrl: 'http://127.0.0.1:1', queues: names}}
    const passive = await timeProbe(rabbitmqDriver, rabbitmqQueuesProbe, passiveTarget)
    return {queues: QUEUES, note: 'the broker holds other queues of colleagues too; the API probe reads them all (queues reports how many)', managementApi: probe, passiveDeclareOnly: passive}
  } finally {
    for (const n of names) await ch.deleteQueue(n).catch(() => {})
    await conn.close()
  }
}

const result = {
  generatedAt: new Date().toISOString(),
  machine: {cpus: cpus().length, model: cpus()[0]?.model, node: process.version},
  note: 'Times are end to end: connect, discover, read, close; medians of several runs on a shared 2-core machine. Round trips count every command, pipeline, HTTP request or AMQP method.',
  bullmq: await bullmq(),
  rabbitmq: await rabbitmq(),
}
mkdirSync('bench/results', {recursive: true})
writeFileSync('bench/results/queues.json', `${JSON.stringify(result, null, 2)}\n`)
console.log(JSON.stringify(result, null, 2))
