/**
 * The diagnosis on real RabbitMQ queues: a queue nobody consumes raises depth, latency and no-consumers; the
 * depth and latency are listed under no-consumers (the cause), ranked by the queue wait they hold, at most five
 * causes, while a deep queue that has a consumer keeps its depth finding on its own. In a vhost of its own, so no
 * other test's queues take part.
 */
import amqp, {type ChannelModel} from 'amqplib'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {renderReport, runAudit} from '../../../src/index.js'
import type {Finding, Report} from '../../../src/core/types.js'
import {DocumentSchemas} from '../../../src/core/document-schema.js'
import {until} from './helpers.js'

const MGMT = 'http://127.0.0.1:15672'
const auth = {authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json'}
const VHOST = `cp_diag_${process.pid}_${Date.now().toString(36)}`
const AMQP_URL = `amqp://guest:guest@127.0.0.1:5672/${VHOST}`
const STALLED = 'stalled'
/** Queues without consumers, smaller backlogs: five of them plus STALLED are six causes, one more than the diagnosis keeps. */
const IDLE = [['idle_a', 150], ['idle_b', 200], ['idle_c', 250], ['idle_d', 300], ['idle_e', 350]] as const
const SERVED = 'served'

const vhostApi = `${MGMT}/api/vhosts/${encodeURIComponent(VHOST)}`

async function managementShows(queue: string, check: (q: Record<string, number>) => boolean): Promise<void> {
  await until(async () => {
    const r = await fetch(`${MGMT}/api/queues/${encodeURIComponent(VHOST)}/${encodeURIComponent(queue)}`, {headers: auth})
    return r.ok && check((await r.json()) as Record<string, number>)
  }, `management API to show ${queue}`, 30_000)
}

describe('diagnosis: a queue without consumers', () => {
  let conn: ChannelModel
  let consumer: ChannelModel
  let report: Report
  const one = (rule: string, queue: string): Finding => {
    const found = report.findings.filter((f) => f.rule === rule && f.subject === `rabbitmq:${queue}`)
    expect(found, `${rule} on ${queue}: ${report.findings.map((f) => `${f.rule} ${f.subject}`).join('; ')}`).toHaveLength(1)
    return found[0]
  }

  beforeAll(async () => {
    expect((await fetch(vhostApi, {method: 'PUT', headers: auth})).ok).toBe(true)
    expect((await fetch(`${MGMT}/api/permissions/${encodeURIComponent(VHOST)}/guest`, {method: 'PUT', headers: auth,
      body: JSON.stringify({configure: '.*', write: '.*', read: '.*'})})).ok).toBe(true)
    conn = await amqp.connect(AMQP_URL)
    const ch = await conn.createChannel()
    for (const q of [STALLED, SERVED, ...IDLE.map(([name]) => name)]) await ch.assertQueue(q, {durable: false})
    // The head of the stalled queue was published ten minutes ago (publishers set the timestamp property).
    for (let i = 0; i < 1500; i++) ch.sendToQueue(STALLED, Buffer.from(`job ${i}`), {timestamp: Math.floor(Date.now() / 1000) - 600})
    for (const [name, depth] of IDLE) for (let i = 0; i < depth; i++) ch.sendToQueue(name, Buffer.from(`job ${i}`))
    for (let i = 0; i < 600; i++) ch.sendToQueue(SERVED, Buffer.from(`job ${i}`))
    // A consumer on the served queue holding 5 unacknowledged: attached, so its depth has no no-consumers cause.
    consumer = await amqp.connect(AMQP_URL)
    const cch = await consumer.createChannel()
    await cch.prefetch(5)
    await cch.consume(SERVED, () => {}, {noAck: false})
    await managementShows(STALLED, (q) => q.messages_ready === 1500)
    await managementShows(SERVED, (q) => q.consumers === 1 && q.messages_ready === 595)
    for (const [name, depth] of IDLE) await managementShows(name, (q) => q.messages_ready === depth)
    ;({report} = await runAudit({targets: [{name: 'rabbit', kind: 'rabbitmq', url: AMQP_URL, options: {vhost: VHOST}}], windowSeconds: 0, failOn: 'critical'}))
  }, 120_000)

  afterAll(async () => {
    await consumer?.close().catch(() => {})
    await conn?.close().catch(() => {})
    await fetch(vhostApi, {method: 'DELETE', headers: auth}).catch(() => {})
  })

  it('lists depth and latency of the stalled queue under its no-consumers cause', () => {
    const cause = one('queue/no-consumers', STALLED)
    expect(cause.causeId).toBeUndefined()
    expect(one('queue/depth', STALLED)).toMatchObject({severity: 'critical', causeId: cause.id})
    expect(one('queue/latency', STALLED)).toMatchObject({severity: 'critical', causeId: cause.id})
    const entry = report.diagnosis.find((d) => d.cause === cause.id)!
    expect(entry).toMatchObject({rank: 1, rule: 'queue/no-consumers', remedy: cause.remedies[0].id})
    expect(entry.explains.sort()).toEqual([one('queue/depth', STALLED).id, one('queue/latency', STALLED).id].sort())
    expect(entry.weight).toMatchObject({basis: 'queue-wait', value: 1500, total: 1500 + 150 + 200 + 250 + 300 + 350 + 595, unit: 'waiting jobs'})
    expect(entry.weight.measuredBy).toMatch(/Little's law/)
  })

  it('leaves the depth of a queue that has a consumer on its own', () => {
    const depth = one('queue/depth', SERVED)
    expect(depth.severity).toBe('warning')
    expect(depth.causeId).toBeUndefined()
    expect(report.findings.some((f) => f.rule === 'queue/no-consumers' && f.subject === `rabbitmq:${SERVED}`)).toBe(false)
    expect(report.diagnosis.flatMap((d) => d.explains)).not.toContain(depth.id)
  })

  it('ranks the causes by the queue wait they hold, keeps five, and links the sixth cause\'s symptoms all the same', () => {
    expect(report.diagnosis.map((d) => d.rank)).toEqual([1, 2, 3, 4, 5])
    const subjects = report.diagnosis.map((d) => report.findings.find((f) => f.id === d.cause)!.subject)
    expect(subjects).toEqual([STALLED, 'idle_e', 'idle_d', 'idle_c', 'idle_b'].map((q) => `rabbitmq:${q}`))
    const shares = report.diagnosis.map((d) => d.share!)
    expect([...shares].sort((a, b) => b - a)).toEqual(shares)
    // idle_a ranks sixth: not in the diagnosis, but its depth is still listed under its cause.
    expect(one('queue/depth', 'idle_a').causeId).toBe(one('queue/no-consumers', 'idle_a').id)
  })

  it('still fails the gate on the symptoms: grouping never turns a red build green', () => {
    expect(report.gate.passed).toBe(false)
    expect(report.summary.critical).toBeGreaterThanOrEqual(8)
  })

  it('resolves the depth remedy\'s reference to the workers remedy, or drops it when there is none', () => {
    // No window: the workers advisor cannot size any queue, so there is no workers remedy to point at.
    expect(report.findings.some((f) => f.rule === 'queue/workers')).toBe(false)
    for (const f of report.findings) for (const r of f.remedies) {
      expect(r).not.toHaveProperty('see')
      for (const ref of r.refs ?? []) expect(report.findings.some((g) => g.remedies.some((x) => x.id === ref))).toBe(true)
    }
    expect(one('queue/depth', STALLED).remedies[0].refs).toBeUndefined()
    expect(one('queue/depth', STALLED).remedies[0].summary).not.toMatch(/see the workers/)
  })

  it('validates against the report schema, and the table and markdown show the symptoms under their cause', async () => {
    const schemas = new DocumentSchemas()
    expect(() => schemas.check('report', JSON.parse(JSON.stringify(report)), 'report.json')).not.toThrow()
    const md = await renderReport(report, 'markdown')
    const rows = md.split('\n').filter((l) => /^\| \d+ \|/.test(l))
    const at = (rule: string, queue: string) => rows.findIndex((l) => l.includes(`\`${rule}\``) && l.includes(`rabbitmq:${queue} `))
    const cause = at('queue/no-consumers', STALLED)
    expect(cause).toBe(0)
    expect(rows[cause]).not.toContain('↳')
    for (const rule of ['queue/depth', 'queue/latency']) {
      const row = at(rule, STALLED)
      expect(row, rule).toBeGreaterThan(cause)
      expect(row).toBeLessThanOrEqual(cause + 2)
      expect(rows[row]).toContain(`↳ \`${rule}\``)
    }
    expect(rows[at('queue/depth', SERVED)]).not.toContain('↳')
    expect(md.indexOf('### Diagnosis')).toBeLessThan(md.indexOf('| # |'))
    expect(md).toMatch(/1\. 🔴 \*\*`queue\/no-consumers`\*\* on rabbitmq:stalled \(rabbit\), #1: \*\*\d+\.\d% of queue wait\*\*/)

    const table = await renderReport(report, 'table', {options: {color: false, verbose: false}})
    expect(table).toMatch(/Diagnosis: the chokepoints[^\n]*\n\s+1\. critical queue\/no-consumers on rabbitmq:stalled \(rabbit\) \[1\]/)
    expect(table).toMatch(/│ 2 +│ critical +│ └ queue\/\w+/)
  })
})
