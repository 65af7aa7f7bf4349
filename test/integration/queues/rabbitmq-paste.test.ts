/**
 * The dead-letter inspect command of a RabbitMQ queue is run as pasted, with a vhost and a dead-letter queue whose
 * names carry command substitutions and quotes: it must list that queue, and run nothing the names hold.
 */
import amqp, {type ChannelModel} from 'amqplib'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {rabbitmqDriver} from '../../../src/drivers/rabbitmq.js'
import {rabbitmqQueuesProbe} from '../../../src/probes/rabbitmq/queues.js'
import {runQueueProbe, until} from './helpers.js'

const MGMT = 'http://127.0.0.1:15672'
const auth = {authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json'}
// No space in the vhost: rabbitmqadmin 3.x sends it form-encoded ('+'), which the API does not read back as a space.
const VHOST = `cp-paste-vh;$(touch\${IFS}vhost-ran)"q"'x'${process.pid}`
const WORK = 'cp-paste-work'
const DLX = 'cp-paste-dlx'
const DLQ = `cp-paste-dlq'$(touch dlq-ran)' ;|& "x" \`touch tick\``
const url = `amqp://guest:guest@127.0.0.1:5672/${encodeURIComponent(VHOST)}`
const api = (path: string, init: RequestInit = {}) => fetch(`${MGMT}/api/${path}`, {...init, headers: auth})

describe('RabbitMQ inspect command with hostile names', () => {
  let conn: ChannelModel

  beforeAll(async () => {
    const vhost = encodeURIComponent(VHOST)
    expect((await api(`vhosts/${vhost}`, {method: 'PUT', body: '{}'})).ok).toBe(true)
    expect((await api(`permissions/${vhost}/guest`, {method: 'PUT', body: JSON.stringify({configure: '.*', write: '.*', read: '.*'})})).ok).toBe(true)
    conn = await amqp.connect(url)
    const ch = await conn.createChannel()
    await ch.assertExchange(DLX, 'fanout', {durable: false})
    await ch.assertQueue(DLQ, {durable: false})
    await ch.bindQueue(DLQ, DLX, '')
    await ch.assertQueue(WORK, {durable: false, arguments: {'x-dead-letter-exchange': DLX}})
    for (let i = 0; i < 5; i++) ch.sendToQueue(WORK, Buffer.from(`job ${i}`))
    await ch.close()
  })

  afterAll(async () => {
    await conn?.close().catch(() => {})
    await api(`vhosts/${encodeURIComponent(VHOST)}`, {method: 'DELETE'})
  })

  it('lists the dead-letter queue and runs nothing its name or the vhost holds', async () => {
    const run = await runQueueProbe(rabbitmqDriver, rabbitmqQueuesProbe, {name: 'rabbit', kind: 'rabbitmq', url}, {
      windowSeconds: 1,
      between: async () => {
        const ch = await conn.createChannel()
        for (let i = 0; i < 3; i++) {
          const msg = await ch.get(WORK, {noAck: false})
          if (msg) ch.reject(msg, false)
        }
        await ch.close()
        await until(async () => {
          const r = await api(`queues/${encodeURIComponent(VHOST)}/${encodeURIComponent(DLQ)}`)
          return r.ok && ((await r.json()) as {messages_ready?: number}).messages_ready === 3
        }, 'management API to show the dead-lettered messages', 30_000)
      },
    })
    const finding = run.findings('queue/dead-letter-growth', `rabbitmq:${WORK}`)[0]
    const command = String(finding?.remedies.find((r) => r.kind === 'dead-letter')?.command)
    expect(command).toContain('rabbitmqadmin')
    const cwd = mkdtempSync(join(tmpdir(), 'cp-paste-rabbit-'))
    try {
      const out = execFileSync('bash', ['-c', command], {cwd, encoding: 'utf8', stdio: 'pipe'})
      expect(readdirSync(cwd)).toEqual([])
      expect(out).toContain(DLQ)
      expect(out).not.toContain(WORK)
    } finally {
      rmSync(cwd, {recursive: true, force: true})
    }
  })
})
