/**
 * No false green: a RabbitMQ whose management API does not answer, with no queue names to passive-declare, gives no
 * reading at all. The audit must say it could not read the broker (exit 3, at the top of every format), never "No
 * findings: every rule is inside its target band".
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {renderReport, runAudit} from '../../../src/index.js'
import type {Report, TargetSpec} from '../../../src/core/types.js'
import {runCli} from '../../helpers/cli.js'
import {freePort} from '../../helpers/process.js'

const AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'
const GREEN = 'every rule is inside its target band'

describe('RabbitMQ with no management API and no queue names', () => {
  let closed: number
  let dir: string
  let target: TargetSpec

  beforeAll(async () => {
    // A port nothing listens on: the management API is unreachable, AMQP itself answers.
    closed = await freePort()
    target = {name: 'rabbit-blind', kind: 'rabbitmq', url: AMQP_URL, options: {managementUrl: `http://127.0.0.1:${closed}`}}
    dir = mkdtempSync(join(tmpdir(), 'chokepoint-rabbit-blind-'))
    writeFileSync(join(dir, 'config.json'), JSON.stringify({targets: [target]}))
  })

  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  it('is not read: the audit is incomplete (exit 3), the target says why, and no report claims a pass', async () => {
    const {report, snapshot} = await runAudit({targets: [target], windowSeconds: 0, failOn: 'critical'})
    // The broker was reached (AMQP answered) and every probe skipped: nothing was read.
    expect(snapshot.targets[0].status).toBe('ok')
    expect(snapshot.readings.map((r) => [r.probe, r.status])).toEqual([['rabbitmq.queues', 'skipped'], ['rabbitmq.management', 'skipped']])
    expect(report.findings).toEqual([])
    expect(report.gate).toMatchObject({passed: true, incomplete: true, exitCode: 3})
    expect(report.targets[0]).toMatchObject({name: 'rabbit-blind', status: 'skipped',
      error: 'nothing could be read: rabbitmq.queues skipped, rabbitmq.management skipped'})
    // Why each was skipped, with the fix (name the queues), is listed once, under skipped.
    expect(report.skipped.find((s) => s.probe === 'rabbitmq.queues')?.reason).toMatch(/name them in the target's options\.queues/)
    // Nothing about the broker passed: every check of it says it was not read.
    expect(report.checks.filter((c) => c.target === 'rabbit-blind').map((c) => c.status)).not.toContain('ok')
    // Nor did anything stack-wide: the only target was not read.
    expect(report.checks.length).toBeGreaterThan(0)
    expect(report.checks.filter((c) => c.status !== 'not-evaluated')).toEqual([])

    const table = await renderReport(report, 'table', {options: {color: false}})
    expect(table).not.toContain(GREEN)
    // Said at the top, right under the targets, not only in the verdict at the end.
    const lines = table.split('\n')
    const warned = lines.findIndex((l) => l.startsWith('audit incomplete: target rabbit-blind not read'))
    expect(warned).toBeGreaterThan(0)
    expect(warned).toBeLessThan(lines.findIndex((l) => l.startsWith('No findings')))
    expect(table).toMatch(/Not read\n {2}rabbit-blind: skipped: nothing could be read/)

    const markdown = await renderReport(report, 'markdown')
    expect(markdown.split('\n')[0]).toBe('## ⚠️ chokepoint: audit incomplete: target rabbit-blind not read (see Not read); 0 critical, 0 warning, 0 info')
    expect(markdown).not.toContain(GREEN)
    expect(markdown).toContain('- **rabbit-blind** (rabbitmq): not read: nothing could be read')

    const json = JSON.parse(await renderReport(report, 'json')) as Report
    expect(json.gate.exitCode).toBe(3)
    expect(json.targets[0].status).toBe('skipped')
  })

  it('the CLI exits 3 for audit, check and capture', () => {
    const config = join(dir, 'config.json')
    const audit = runCli(['audit', '--config', config, '--window', '0', '--format', 'table', '--no-color'])
    expect(audit.status, audit.stderr).toBe(3)
    expect(audit.stdout).not.toContain(GREEN)
    expect(audit.stdout).toContain('audit incomplete: target rabbit-blind not read')

    const check = runCli(['check', '--config', config, '--window', '0'])
    expect(check.status, check.stderr).toBe(3)
    expect(check.stdout).toMatch(/^SKIPPED rabbit-blind: nothing could be read/m)

    const capture = runCli(['capture', '--config', config, '--window', '0', '-o', join(dir, 'snapshot.json')])
    expect(capture.status, capture.stderr).toBe(3)
    const replay = runCli(['report', join(dir, 'snapshot.json'), '--format', 'markdown'])
    expect(replay.status, replay.stderr).toBe(3)
    expect(replay.stdout).not.toContain(GREEN)
  })

  it('with one queue named, the broker is read (passive declare): complete, and the missing API is only a skip', async () => {
    const queue = `cpq_notread_${process.pid}_${Date.now().toString(36)}`
    const amqp = (await import('amqplib')).default
    const conn = await amqp.connect(AMQP_URL)
    try {
      const ch = await conn.createChannel()
      await ch.assertQueue(queue, {autoDelete: false, durable: false})
      try {
        const named = {...target, options: {...target.options, queues: [queue]}}
        const {report} = await runAudit({targets: [named], windowSeconds: 0, failOn: 'never'})
        expect(report.targets[0].status).toBe('ok')
        expect(report.gate).toMatchObject({incomplete: false, exitCode: 0})
        expect(report.skipped.map((s) => [s.probe, s.status])).toEqual([['rabbitmq.management', 'skipped']])
      } finally {
        await ch.deleteQueue(queue)
      }
    } finally {
      await conn.close()
    }
  })
})
