import {describe, expect, it} from 'vitest'
import {fleetLine, fleetSummary} from '../../../src/core/fleet.js'
import type {Finding, TargetInfo} from '../../../src/core/types.js'

const target = (name: string, group?: string, status: TargetInfo['status'] = 'ok'): TargetInfo => ({name, kind: 'postgres', url: 'postgres://h/db', status, ...(group ? {group} : {})})
const finding = (id: string, target: string, severity: Finding['severity']): Finding => ({id, rule: `r/${id}`, severity, area: 'database', target, subject: `s-${id}`,
  metric: 'm', value: 1, threshold: {target: null, action: null}, message: `message ${id}`, evidence: {}, remedies: []})

describe('fleetSummary', () => {
  it('is absent for one target, so a report of one target does not change', () => {
    expect(fleetSummary([target('only', 'eu')], [finding('a', 'only', 'critical')], 'critical')).toBeUndefined()
  })

  it('counts targets ok, failing (a finding at or above --fail-on) and skipped, per group and in all', () => {
    const targets = [target('eu-1', 'eu'), target('eu-2', 'eu'), target('eu-3', 'eu', 'error'), target('us-1', 'us'), target('loose')]
    const findings = [finding('a', 'eu-1', 'critical'), finding('b', 'eu-2', 'warning'), finding('c', 'eu-1', 'info'), finding('d', 'us-1', 'warning'), finding('e', 'eu-2', 'warning'), finding('f', 'eu-1', 'warning')]
    const fleet = fleetSummary(targets, findings, 'warning')!
    expect(fleet).toMatchObject({targets: 5, ok: 1, failing: 3, skipped: 1})
    expect(fleet.groups.map((g) => g.group)).toEqual(['eu', 'us', null])
    const eu = fleet.groups[0]
    expect(eu).toMatchObject({targets: 3, ok: 0, failing: 2, skipped: 1, findings: {critical: 1, warning: 3, info: 1}, skippedTargets: ['eu-3']})
    // The worst first, at most three.
    expect(eu.worst.map((f) => f.id)).toEqual(['a', 'b', 'e'])
    expect(fleet.groups[2]).toMatchObject({group: null, targets: 1, ok: 1, failing: 0})
    expect(fleetLine(fleet)).toBe('5 targets: 1 ok, 3 failing, 1 skipped')
    // With the gate at critical, a warning does not make a target failing.
    expect(fleetSummary(targets, findings, 'critical')).toMatchObject({ok: 3, failing: 1, skipped: 1})
    expect(fleetSummary(targets, findings, 'never')).toMatchObject({ok: 4, failing: 0})
  })
})
