import {describe, expect, it} from 'vitest'
import {analyseSnapshot} from '../../../src/core/audit.js'
import {readAnything, unreadTargets} from '../../../src/core/coverage.js'
import type {Reading, ReadingGap, Snapshot} from '../../../src/core/types.js'
import {renderTerse} from '../../../src/cli/check.js'
import {testContext} from '../../helpers/context.js'

const now = new Date().toISOString()
const reading = (target: string, probe: string, status: Reading['status'] = 'ok', notRead?: ReadingGap[]): Reading =>
  ({target, probe, takenAt: now, durationMs: 1, status, metrics: [], ...(status !== 'ok' ? {reason: `${probe} does not apply`} : {}), ...(notRead ? {notRead} : {})})

function snapshot(readings: Reading[]): Snapshot {
  return {schemaVersion: 1, tool: {name: 'chokepoint', version: 't'}, capturedAt: now, windowSeconds: 0, readings,
    targets: [{name: 'db', kind: 'postgres', url: 'postgres://db', status: 'ok'}, {name: 'mq', kind: 'rabbitmq', url: 'amqp://mq', status: 'ok'}]}
}

const analyse = (s: Snapshot) => analyseSnapshot(s, {...testContext(), failOn: 'critical', source: 'snapshot'})
const hidden: ReadingGap = {what: 'statement texts', missing: 3, of: 10, reason: 'hidden', fix: 'GRANT pg_read_all_stats TO "app";'}

describe('what an audit could not read', () => {
  it('a reached target whose every probe skipped or read no input is not read; one reading is enough to be read', () => {
    const all = {what: 'queues', missing: 4, of: 4, reason: 'none visible'}
    expect(readAnything(reading('db', 'p', 'ok', [all]))).toBe(false)
    expect(readAnything(reading('db', 'p', 'ok', [hidden]))).toBe(true)
    // A gap with no total (counted only) is never "nothing read".
    expect(readAnything(reading('db', 'p', 'ok', [{what: 'x', missing: 5, reason: 'r'}]))).toBe(true)
    const s = snapshot([reading('db', 'postgres.statements', 'skipped'), reading('db', 'postgres.activity', 'ok', [all]),
      reading('mq', 'rabbitmq.queues', 'skipped'), reading('mq', 'rabbitmq.management', 'skipped')])
    expect([...unreadTargets(s.targets, s.readings)]).toEqual([
      ['db', 'nothing could be read: postgres.statements skipped, postgres.activity read no input'],
      ['mq', 'nothing could be read: rabbitmq.queues skipped, rabbitmq.management skipped'],
    ])
    // A failed reading already makes the audit incomplete and says why; the target was reached and stays ok.
    const failed = snapshot([reading('mq', 'rabbitmq.queues', 'skipped'), reading('mq', 'rabbitmq.management', 'error')])
    expect(unreadTargets(failed.targets, failed.readings).has('mq')).toBe(false)
    const one = snapshot([reading('db', 'postgres.statements', 'skipped'), reading('db', 'postgres.xid-age'), reading('mq', 'rabbitmq.queues', 'skipped')])
    expect([...unreadTargets(one.targets, one.readings).keys()]).toEqual(['mq'])
    // No readings at all (every probe left out by skipProbes): nothing was asked, nothing is claimed.
    expect(unreadTargets(one.targets, []).size).toBe(0)
  })

  it('gates a not-read target as incomplete (exit 3) and marks it skipped in the report, the snapshot left as it was', async () => {
    const s = snapshot([reading('db', 'postgres.xid-age'), reading('mq', 'rabbitmq.queues', 'skipped'), reading('mq', 'rabbitmq.management', 'skipped')])
    const report = await analyse(s)
    expect(report.gate).toMatchObject({passed: true, incomplete: true, exitCode: 3})
    expect(report.targets.map((t) => [t.name, t.status])).toEqual([['db', 'ok'], ['mq', 'skipped']])
    expect(report.targets[1].error).toBe('nothing could be read: rabbitmq.queues skipped, rabbitmq.management skipped')
    // No check of the target passes: each says it was not read.
    const own = report.checks.filter((c) => c.target === 'mq')
    expect(own.length).toBeGreaterThan(0)
    for (const c of own) expect(c, c.rule).toMatchObject({status: 'not-evaluated', reason: `target not read: ${report.targets[1].error}`})
    expect(s.targets[1].status).toBe('ok')
    expect(renderTerse(report)).toMatch(/^SKIPPED mq: nothing could be read: .*\naudit incomplete: target mq not read \(see Not read\); 0 critical, 0 warning, 0 info\n$/m)

    const read = await analyse(snapshot([reading('db', 'postgres.xid-age'), reading('mq', 'rabbitmq.queues'), reading('mq', 'rabbitmq.management', 'skipped')]))
    expect(read.gate).toMatchObject({incomplete: false, exitCode: 0})
  })

  it('lists the gaps of ok readings under notRead with their fix; a gap alone leaves the audit complete', async () => {
    const report = await analyse(snapshot([reading('db', 'postgres.statements', 'ok', [hidden]), reading('mq', 'rabbitmq.queues'),
      reading('db', 'postgres.activity', 'skipped', [hidden])]))
    // Gaps of a skipped reading are not listed twice: the skip says it.
    expect(report.notRead).toEqual([{target: 'db', probe: 'postgres.statements', ...hidden}])
    expect(report.gate).toMatchObject({incomplete: false, exitCode: 0})
    expect(renderTerse(report)).toContain('NOT READ db postgres.statements: statement texts: 3 of 10 not read: hidden; fix: GRANT pg_read_all_stats TO "app";')
  })
})
