/**
 * The diagnosis' pure parts: how `explains:` and `see:` are validated when rules load, and the linking logic on
 * findings shaped like the real ones (the real-service cases are test/integration/postgres/diagnosis.test.ts and
 * test/integration/queues/diagnosis.test.ts).
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {diagnose, tableKey} from '../../../src/core/diagnosis.js'
import {ConfigError} from '../../../src/core/errors.js'
import {loadRuleDirs, parseRule} from '../../../src/core/rules.js'
import type {Finding, Remedy} from '../../../src/core/types.js'
import {renderTable} from '../../../src/reporters/table.js'
import {rules} from '../../helpers/context.js'
import {contextOf, sampleReport} from '../reporters/fixture.js'

const base = {id: 'area/x', area: 'queue', title: 't', description: 'a description', advisor: 'a', message: 'm', docs: 'some docs here, long enough'}

function loadError(raw: Record<string, unknown>): string {
  try {
    parseRule({...base, ...raw}, 'rules/area/x.yaml')
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    expect((error as Error).message).not.toContain('\n')
    return (error as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('explains and see in rule files', () => {
  it('accepts a list of {rule, match} and keeps it', () => {
    const rule = parseRule({...base, explains: [{rule: 'queue/depth', match: 'queue'}],
      remedies: [{kind: 'workers', summary: 's', see: [{rule: 'queue/workers', match: 'queue'}]}]}, 'rules/area/x.yaml')
    expect(rule.explains).toEqual([{rule: 'queue/depth', match: 'queue'}])
    expect(rule.remedies[0].see).toEqual([{rule: 'queue/workers', match: 'queue'}])
  })

  it.each([
    [{explains: {rule: 'queue/depth', match: 'queue'}}, 'rule file rules/area/x.yaml: explains must be a list of {rule, match}'],
    [{explains: [{rule: 'queue/depth', match: 'queues'}]}, 'rule file rules/area/x.yaml: explains[0].match must be one of target, subject, table, statement, queue, reads, session, not "queues"'],
    [{explains: [{rule: 'Queue depth', match: 'queue'}]}, 'rule file rules/area/x.yaml: explains[0].rule must be a rule id like "area/kebab-name", not "Queue depth"'],
    [{explains: [{rule: 'queue/depth', match: 'queue', when: 'x'}]}, 'rule file rules/area/x.yaml: explains[0]: unknown key "when" (expected rule and match)'],
    [{explains: [{rule: 'area/x', match: 'target'}]}, 'rule file rules/area/x.yaml: explains lists the rule itself (area/x)'],
    [{remedies: [{kind: 'workers', summary: 's', see: [{rule: 'queue/workers'}]}]}, 'rule file rules/area/x.yaml: remedies[0].see[0].match must be one of target, subject, table, statement, queue, reads, session, not null'],
  ])('refuses %j in one line', (raw, message) => {
    expect(loadError(raw)).toBe(message)
  })

  it('refuses a link to a rule no rules directory defines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chokepoint-explains-'))
    writeFileSync(join(dir, 'cause.yaml'), ['id: area/cause', 'area: queue', 'title: t', 'description: a description', 'advisor: a', 'message: m',
      'docs: some docs here, long enough', 'explains: [{rule: area/typo, match: target}]'].join('\n'))
    expect(() => loadRuleDirs([dir])).toThrow(/cause\.yaml: links to rule area\/typo, which no rules directory defines/)
  })

  it('the shipped cause rules link only to shipped rules', () => {
    const ids = new Set(rules().map((r) => r.id))
    const causes = rules().filter((r) => r.explains?.length)
    expect(causes.map((r) => r.id).sort()).toEqual(['database/blocked-sessions', 'database/missing-index', 'database/n-plus-one', 'database/prepared-transaction', 'database/working-set-exceeds-cache', 'queue/no-consumers'])
    for (const r of causes) for (const l of r.explains!) expect(ids.has(l.rule), `${r.id} -> ${l.rule}`).toBe(true)
  })
})

function finding(rule: string, subject: string, fields: Partial<Finding> = {}): Finding {
  return {id: `${rule}|${subject}`.replace(/[^a-z0-9]/gi, '').slice(-16).padStart(16, '0'), rule, severity: 'warning', area: rule.split('/')[0] as Finding['area'],
    target: 'db', subject, metric: 'm', value: 1, threshold: {target: null, action: null}, message: `${rule} on ${subject}`, evidence: {}, remedies: [], ...fields}
}

const remedy = (kind: Remedy['kind'], id: string, extra: Record<string, unknown> = {}) => ({id, kind, summary: `${kind} remedy`, applier: null, ...extra}) as Remedy

describe('diagnose', () => {
  it('reads quoted and catalog table names as the same table', () => {
    expect(tableKey('public.orders')).toBe('public.orders')
    expect(tableKey('"public"."orders"')).toBe('public.orders')
    expect(tableKey('public."Order Items"')).toBe('public.Order Items')
  })

  it('prefers the cause that names the symptom\'s table over one that shares only the target', () => {
    const index = finding('database/missing-index', 'public.orders customer_id', {remedies: [remedy('index', 'index-000000000001', {table: 'public.orders'})]})
    const workingSet = finding('database/working-set-exceeds-cache', 'database shop', {evidence: {reads: 100, readsByTable: {'public.orders': 10, 'public.items': 90}}})
    const tableHits = finding('database/buffer-cache-hit-rate', 'table public.orders')
    const dbHits = finding('database/buffer-cache-hit-rate', 'database shop')
    const {findings} = diagnose([tableHits, dbHits, index, workingSet], rules())
    const by = (f: Finding) => findings.find((x) => x.id === f.id)!
    expect(by(tableHits).causeId).toBe(index.id)
    expect(by(dbHits).causeId).toBe(workingSet.id)
    // orders holds 10% of the reads: the working set is not this index's doing.
    expect(by(workingSet).causeId).toBeUndefined()
  })

  it('weighs from a saved snapshot whose evidence is not what a probe writes, without a crash', () => {
    const index = finding('database/missing-index', 'public.orders customer_id', {evidence: {statements: ['42']}, remedies: [remedy('index', 'index-000000000001', {table: 'public.orders'})]})
    const odd = Object.create(null) as Record<string, unknown>
    const snapshot = {readings: [{target: 'db', probe: 'postgres.statements', status: 'ok', metrics: [
      {name: 'db.statement.mean_seconds', subject: 'statement 42', value: 1, evidence: {queryid: odd, totalMs: 5, share: 0.5}},
      {name: 'db.statement.mean_seconds', subject: 'statement 42', value: 1, evidence: {queryid: '42', totalMs: 10, share: 0.5}},
    ]}]} as never
    const {diagnosis} = diagnose([index], rules(), snapshot)
    expect(diagnosis[0].weight).toMatchObject({basis: 'database-time', value: 10})
  })

  it('never links causes into a loop', () => {
    const loopRules = [{id: 'area/a', explains: [{rule: 'area/b', match: 'target' as const}]}, {id: 'area/b', explains: [{rule: 'area/a', match: 'target' as const}]}]
    const a = finding('area/a', 'x')
    const b = finding('area/b', 'y')
    const {findings, diagnosis} = diagnose([a, b], loopRules)
    expect(findings.filter((f) => f.causeId)).toHaveLength(1)
    expect(diagnosis).toHaveLength(1)
  })

  it('resolves a remedy\'s see-link to the remedy of the finding it names, shown as its number; drops it when there is none', async () => {
    const workers = finding('queue/workers', 'rabbitmq:jobs', {remedies: [remedy('workers', 'workers-00000000000a', {recommendedConsumers: 4})]})
    const depth = finding('queue/depth', 'rabbitmq:jobs', {remedies: [remedy('workers', 'workers-00000000000b', {see: [{rule: 'queue/workers', match: 'queue'}]})]})
    const lonely = finding('queue/depth', 'rabbitmq:other', {remedies: [remedy('workers', 'workers-00000000000c', {see: [{rule: 'queue/workers', match: 'queue'}]})]})
    const {findings} = diagnose([depth, lonely, workers], rules())
    const [d, l] = findings
    expect(d.remedies[0]).toEqual({id: 'workers-00000000000b', kind: 'workers', summary: 'workers remedy', applier: null, refs: ['workers-00000000000a']})
    expect(l.remedies[0]).toEqual({id: 'workers-00000000000c', kind: 'workers', summary: 'workers remedy', applier: null})
    const text = await renderTable(contextOf(sampleReport({findings, diagnosis: []})))
    expect(text).toMatch(/\[1\] workers: workers remedy \(see \[3\] workers\)/)
    expect(text).toMatch(/\[2\] workers: workers remedy\n/)
  })
})
