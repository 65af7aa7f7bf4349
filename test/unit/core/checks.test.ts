import {describe, expect, it} from 'vitest'
import {analyseSnapshot} from '../../../src/core/audit.js'
import {MAX_OK_CHECKS_PER_RULE} from '../../../src/core/checks.js'
import type {Reading, Snapshot} from '../../../src/core/types.js'
import {testContext} from '../../helpers/context.js'

const now = new Date().toISOString()
const reading = (probe: string, metrics: Reading['metrics'], status: Reading['status'] = 'ok', reason?: string): Reading =>
  ({target: 'db', probe, takenAt: now, durationMs: 1, status, metrics, ...(reason ? {reason} : {})})

function snapshot(readings: Reading[], status: 'ok' | 'error' = 'ok'): Snapshot {
  return {schemaVersion: 1, tool: {name: 'chokepoint', version: 't'}, capturedAt: now, windowSeconds: 0,
    targets: [{name: 'db', kind: 'postgres', url: 'postgres://db', status, ...(status === 'error' ? {error: 'could not connect: refused'} : {})}], readings}
}

const analyse = (s: Snapshot) => analyseSnapshot(s, {...testContext(), failOn: 'critical', source: 'snapshot'})

describe('checks', () => {
  it('lists passing checks with their values, failing ones with their finding, and caps the passing ones', async () => {
    const lags = Array.from({length: MAX_OK_CHECKS_PER_RULE + 5}, (_, i) => ({name: 'replication.lag_seconds', value: 0.1, subject: `standby-${i}`}))
    const report = await analyse(snapshot([reading('postgres.replication', [...lags, {name: 'replication.lag_seconds', value: 30, subject: 'slow'}])]))
    const lag = report.checks.filter((c) => c.rule === 'replication/lag')
    expect(lag.filter((c) => c.status === 'ok')).toHaveLength(MAX_OK_CHECKS_PER_RULE)
    const slow = lag.find((c) => c.subject === 'slow')!
    expect(slow).toMatchObject({status: 'critical', value: 30, threshold: {target: '<= 1s', action: '> 5s'}})
    expect(slow.finding).toBe(report.findings.find((f) => f.rule === 'replication/lag')!.id)
    expect(report.checksOmitted).toContainEqual({rule: 'replication/lag', target: 'db', ok: 5})
  })

  it('says why a rule was not evaluated: its probe skipped, failed or did not run, or the target was not read', async () => {
    const report = await analyse(snapshot([
      reading('postgres.statements', [], 'skipped', 'pg_stat_statements is not installed: CREATE EXTENSION pg_stat_statements'),
      reading('postgres.activity', [], 'error', 'canceling statement due to statement timeout'),
    ]))
    const check = (rule: string) => report.checks.find((c) => c.rule === rule)!
    expect(check('database/slow-statement')).toMatchObject({status: 'not-evaluated', reason: expect.stringMatching(/^postgres.statements skipped: pg_stat_statements is not installed/)})
    expect(check('database/long-running-query')).toMatchObject({status: 'not-evaluated', reason: expect.stringMatching(/^postgres.activity failed: canceling statement/)})
    expect(check('replication/lag')).toMatchObject({status: 'not-evaluated', reason: 'postgres.replication did not run (skipProbes)'})
    // Rules of other kinds do not apply to a PostgreSQL target at all.
    expect(report.checks.some((c) => c.rule === 'cache/hit-rate')).toBe(false)

    const down = await analyse(snapshot([], 'error'))
    expect(down.checks.find((c) => c.rule === 'replication/lag')).toMatchObject({status: 'not-evaluated', reason: 'target not read: could not connect: refused'})
  })

  it('does not pass a subject outside the rule\'s scope: it was not judged', async () => {
    const report = await analyse(snapshot([reading('postgres.statements', [
      {name: 'db.statement.mean_seconds', value: 0.4, subject: 'queryid 1', evidence: {calls: 1}},
      {name: 'db.statement.mean_seconds', value: 0.01, subject: 'queryid 2', evidence: {calls: 500}},
    ])]))
    const bySubject = Object.fromEntries(report.checks.filter((c) => c.rule === 'database/slow-statement').map((c) => [c.subject, c]))
    expect(bySubject['queryid 1']).toMatchObject({status: 'not-evaluated', value: 0.4, reason: "outside the rule's scope: calls >= 10 does not hold"})
    expect(bySubject['queryid 2']).toMatchObject({status: 'ok', value: 0.01})
  })

  it('passes a rule whose probe read and found nothing to judge, and an advisor rule that raised nothing', async () => {
    const report = await analyse(snapshot([reading('postgres.activity', [])]))
    expect(report.checks.find((c) => c.rule === 'database/idle-in-transaction')).toMatchObject({status: 'ok', value: null, reason: expect.stringMatching(/nothing to judge/)})
    expect(report.checks.find((c) => c.rule === 'database/index-workload')).toMatchObject({status: 'ok', subject: 'db'})
    expect(report.checks.find((c) => c.rule === 'pool/chain-budget')).toMatchObject({status: 'ok', target: 'stack'})
    expect(report.rules.map((r) => r.id)).toContain('replication/lag')
    expect(report.rules.find((r) => r.id === 'replication/lag')).toMatchObject({kind: 'threshold', metric: 'replication.lag_seconds', thresholds: {target: '<= 1s', action: '> 5s'}})
  })
})
