/**
 * The orchestrator's pure parts: which remedies a selection takes, the report's age and targets, the journal's
 * atomic, schema-checked, scrubbed file, the per-target lock, and which applier the registry names.
 */
import {mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {builtinRegistry} from '../../../src/builtin.js'
import {checkReportAge, resolveReportTargets, selectRemedies} from '../../../src/core/apply.js'
import {lockTarget} from '../../../src/core/apply-lock.js'
import {newJournal, readJournal, writeJournal} from '../../../src/core/journal.js'
import {definePlugin} from '../../../src/core/plugin.js'
import {Registry} from '../../../src/core/registry.js'
import {SecretRegistry} from '../../../src/core/redact.js'
import type {Finding, Report} from '../../../src/core/types.js'

const dir = mkdtempSync(join(tmpdir(), 'cp-apply-unit-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const appliers = definePlugin({name: 'unit-appliers', appliers: [
  {id: 'ttl-any', remedyKinds: ['ttl'], targetKinds: ['redis'], description: 'x', load: async () => ({} as never)},
  {id: 'config-own', remedyKinds: ['config'], targetKinds: ['postgres'], rules: ['database/own'], description: 'x', load: async () => ({} as never)},
]})
// Only these appliers (the built-in ttl applier would otherwise be the first for ttl remedies).
const registry = new Registry([appliers])

function finding(rule: string, target: string, remedies: Array<{id: string; kind: string}>): Finding {
  return {id: `f-${rule}`, rule, severity: 'warning', area: 'database', target, subject: 's', metric: 'm', value: 1, threshold: {target: null, action: null},
    message: 'm', evidence: {}, remedies: remedies.map((r) => ({...r, summary: 's', applier: null}))} as unknown as Finding
}

const report = {
  generatedAt: new Date().toISOString(),
  targets: [{name: 'pg', kind: 'postgres', url: 'postgres://app:<password removed>@db:5432/shop', status: 'ok'}, {name: 'cache', kind: 'redis', url: 'redis://cache:6379', status: 'ok'}],
  findings: [
    finding('database/own', 'pg', [{id: 'config-aaaaaaaaaaaa', kind: 'config'}]),
    finding('database/other', 'pg', [{id: 'config-bbbbbbbbbbbb', kind: 'config'}, {id: 'query-cccccccccccc', kind: 'query'}]),
    finding('cache/no-ttl', 'cache', [{id: 'ttl-dddddddddddd', kind: 'ttl'}]),
    finding('cache/also', 'cache', [{id: 'ttl-dddddddddddd', kind: 'ttl'}]),
  ],
} as unknown as Report

describe('selectRemedies', () => {
  it('takes every remedy an applier serves, once, and only the rule a rule-scoped applier names', () => {
    expect(selectRemedies(report, registry, {}).map((s) => [s.remedy.id, s.applier])).toEqual([['config-aaaaaaaaaaaa', 'config-own'], ['ttl-dddddddddddd', 'ttl-any']])
    expect(selectRemedies(report, registry, {kinds: ['ttl']}).map((s) => s.remedy.id)).toEqual(['ttl-dddddddddddd'])
  })

  it('refuses, in one line, a remedy not in the report, one with no applier, and an unknown kind', () => {
    expect(() => selectRemedies(report, registry, {only: ['index-000000000000']})).toThrow(/^remedy index-000000000000 is not in the report/)
    expect(() => selectRemedies(report, registry, {only: ['config-bbbbbbbbbbbb']})).toThrow(/has no applier: it stays advice/)
    expect(() => selectRemedies(report, registry, {kinds: ['indexes']})).toThrow(/--kind indexes: not a remedy kind/)
  })
})

describe('the registry names appliers', () => {
  it('by remedy kind, target kind and rule', () => {
    expect(registry.applierFor('ttl', {targetKind: 'redis'})).toBe('ttl-any')
    expect(registry.applierFor('ttl', {targetKind: 'postgres'})).toBeNull()
    expect(registry.applierFor('config', {targetKind: 'postgres', rule: 'database/other'})).toBeNull()
    expect(registry.applierFor('config', {rule: 'database/own'})).toBe('config-own')
    expect(() => builtinRegistry(appliers, {...appliers, name: 'again'})).toThrow(/applier ttl-any is registered twice/)
  })
})

describe('the report', () => {
  it('is refused when older than the maximum age', () => {
    const now = new Date('2026-01-02T12:00:00Z')
    expect(() => checkReportAge({generatedAt: '2026-01-02T11:00:00Z'}, 24 * 3600_000, now)).not.toThrow()
    expect(() => checkReportAge({generatedAt: '2026-01-01T11:00:00Z'}, 24 * 3600_000, now)).toThrow(/^the report is 25 h old .*older than --max-report-age 24 h/)
  })

  it('applies only where its targets are configured now, at the same endpoint', () => {
    const secrets = new SecretRegistry()
    const ok = resolveReportTargets(report.targets, [{name: 'pg', kind: 'postgres', url: 'postgresql://app:s3cret-pw@db:5432/shop'}], ['pg'], secrets)
    expect(ok.get('pg')?.url).toBe('postgresql://app:s3cret-pw@db:5432/shop')
    expect(() => resolveReportTargets(report.targets, [{name: 'pg', kind: 'postgres', url: 'postgres://app:s3cret-pw@db:5432/other'}], ['pg'], secrets))
      .toThrow(/^target pg is postgres postgres:\/\/app:<password removed>@db:5432\/other now, but the report audited postgres .*\/shop: refusing/)
    expect(() => resolveReportTargets(report.targets, [], ['pg'], secrets, () => 'pg')).toThrow(/target pg .* is not configured now: pass --pg URL/)
  })
})

describe('the journal', () => {
  it('is written atomically, scrubbed of the run\'s secrets, and validated when read', () => {
    const secrets = new SecretRegistry()
    secrets.register('s3cret-pw')
    const journal = newJournal({generatedAt: new Date().toISOString(), source: 'live', targets: [{name: 'pg', kind: 'postgres', url: 'postgres://db/shop'}]})
    journal.changes.push({changeId: 'change-1', remedyId: 'config-aaaaaaaaaaaa', remedyKind: 'config', applier: 'config-own', target: 'pg', status: 'applying',
      summary: 's', statements: ['SELECT 1'], rollbackStatements: [], details: {}, error: 'login failed for s3cret-pw'})
    const file = join(dir, 'j.json')
    writeJournal(file, journal, secrets)
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([])
    expect(readFileSync(file, 'utf8')).not.toContain('s3cret-pw')
    expect(readJournal(file).changes[0].status).toBe('applying')
    writeFileSync(file, JSON.stringify({...journal, changes: [{...journal.changes[0], status: 'half-done'}]}))
    expect(() => readJournal(file)).toThrow(/j\.json: \/changes\/0\/status: must be one of planned, applying/)
  })
})

describe('the target lock', () => {
  it('refuses a second holder while the first lives, and is taken over from a dead one', () => {
    const target = {name: 'pg', kind: 'postgres', url: 'postgres://app:pw@db:5432/shop'}
    const first = lockTarget(target, 'one.json', dir)
    // Another process (this test's parent) holding it: written as if by it.
    writeFileSync(first.file, JSON.stringify({pid: process.ppid, journal: 'one.json'}))
    expect(() => lockTarget({...target, url: 'postgres://other:pw@db:5432/shop'}, 'two.json', dir)).toThrow(/another chokepoint apply \(pid \d+.*journal one.json\) is working on target pg/)
    writeFileSync(first.file, JSON.stringify({pid: 2 ** 22 + 1, journal: 'dead.json'}))
    const second = lockTarget(target, 'two.json', dir)
    expect(second.staleJournal).toBe('dead.json')
    second.release()
  })
})
