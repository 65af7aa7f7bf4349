import {createRequire} from 'node:module'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {applyBaseline, diffReports} from '../../../src/core/diff.js'
import {SCHEMA_DIR} from '../../../src/core/document-schema.js'
import type {Finding, Report} from '../../../src/core/types.js'
import {renderDiff} from '../../../src/reporters/diff.js'
import {sampleReport} from '../reporters/fixture.js'

const {default: Ajv} = createRequire(import.meta.url)('ajv') as typeof import('ajv')
const validateDiff = new Ajv({strict: false}).addFormat('date-time', () => true)
  .compile(JSON.parse(readFileSync(join(SCHEMA_DIR, 'diff.schema.json'), 'utf8')) as object)

function withFindings(findings: Finding[]): Report {
  const summary = {critical: 0, warning: 0, info: 0}
  for (const f of findings) summary[f.severity]++
  const passed = !findings.some((f) => f.severity === 'critical')
  return sampleReport({findings, summary, gate: {failOn: 'critical', passed, incomplete: false, exitCode: passed ? 0 : 1}})
}

const [lag, unused, hit] = sampleReport().findings

describe('diff of two reports', () => {
  it('pairs findings by id, else by rule + target + subject, and sorts them into new, worse, resolved, better, unchanged', () => {
    const old = withFindings([{...lag, severity: 'warning', value: 3}, unused, hit])
    const now = withFindings([
      {...lag, value: 12},                                         // warning -> critical: worse
      {...unused, id: 'other-id-scheme', severity: 'info'},         // same rule/target/subject, other id: better
      {...hit, id: 'n1', subject: 'y', message: 'a new one'},       // new
    ])
    const diff = diffReports(old, now, {oldFile: 'a.json', newFile: 'b.json'})
    const by = Object.fromEntries(diff.changes.map((c) => [c.change === 'new' ? 'new' : c.subject, c]))
    expect(diff.counts).toEqual({new: 1, worse: 1, resolved: 1, better: 1, unchanged: 0})
    expect(by['replica-1']).toMatchObject({change: 'worse', matchedBy: 'id', severity: {old: 'warning', new: 'critical'}, value: {old: 3, new: 12, delta: 9}, valueText: '3 s -> 12 s'})
    expect(by['"public"."orders_note_idx"']).toMatchObject({change: 'better', matchedBy: 'subject'})
    expect(by.new).toMatchObject({subject: 'y', severity: {old: null, new: 'info'}})
    expect(diff.changes.find((c) => c.change === 'resolved')).toMatchObject({subject: 'x', severity: {old: 'info', new: null}})
    expect(diff.changes.map((c) => c.change)).toEqual(['new', 'worse', 'resolved', 'better'])
    // The critical lag is worse: the diff fails at critical, not at never.
    expect(diff.gate).toMatchObject({failOn: 'critical', passed: false, failing: 1, exitCode: 1})
    expect(diffReports(old, now, {failOn: 'never'}).gate.passed).toBe(true)
    expect(diff.verdict).toEqual({changed: true, scalingPathChanged: false, text: 'gate passed -> failed: 0 critical, 2 warning, 1 info -> 1 critical, 0 warning, 2 info'})
    expect(validateDiff(JSON.parse(renderDiff(diff, 'json'))), JSON.stringify(validateDiff.errors)).toBe(true)
  })

  it('says when the scaling path changed, and claims no change from a report written before it existed', () => {
    const verdict = (path: 'indexes' | 'healthy') => ({path, headline: path, target: null, share: null, decidedBy: 'd', wouldChange: 'w', considered: []})
    const diff = diffReports({...withFindings([unused]), verdict: verdict('indexes')}, {...withFindings([unused]), verdict: verdict('healthy')})
    expect(diff.verdict).toMatchObject({changed: true, scalingPathChanged: true})
    expect(diff.verdict.text).toMatch(/; scaling path indexes -> healthy$/)
    expect(validateDiff(diff)).toBe(true)
    const older = diffReports(withFindings([unused]), {...withFindings([unused]), verdict: verdict('healthy')})
    expect(older.verdict).toMatchObject({changed: false, scalingPathChanged: false})
    expect(older.new.scalingPath).toBe('healthy')
  })

  it('passes when nothing is new or worse, whatever is still there', () => {
    const old = withFindings([lag, unused])
    const diff = diffReports(old, withFindings([{...lag, value: 30}, unused]))
    expect(diff.counts).toMatchObject({unchanged: 2, new: 0, worse: 0})
    expect(diff.gate).toMatchObject({passed: true, exitCode: 0})
    expect(diff.verdict.changed).toBe(false)
    // A value that moved at the same severity is listed with its change.
    expect(renderDiff(diff, 'table', {width: 80})).toMatch(/Same severity, value moved \(1\)\n {2}critical replication\/lag replica-1 \(primary\): 12 s -> 30 s/)
    expect(renderDiff(diff, 'markdown')).toMatch(/\| unchanged \| critical \| `replication\/lag` \| primary \| replica-1 \| 12 s -> 30 s \|/)
  })

  it('a baseline gates only on what is new or worse, and counts the known findings it ignored', () => {
    const baseline = withFindings([lag, unused])
    const same = applyBaseline(withFindings([lag, unused]), baseline, 'base.json')
    expect(same.report.gate).toMatchObject({passed: true, exitCode: 0, baseline: {file: 'base.json', ignored: 2, failing: 0}})
    const fresh = {...lag, id: 'z9', subject: 'replica-2'}
    const worse = applyBaseline(withFindings([lag, unused, fresh]), baseline, 'base.json')
    expect(worse.report.gate).toMatchObject({passed: false, exitCode: 1, baseline: {ignored: 2, failing: 1}})
    expect([...worse.fresh]).toEqual(['z9'])
    // Each finding's comparison, for the formats that mark known findings (SARIF baselineState, JUnit, HTML).
    expect(worse.report.gate.baseline!.changes).toEqual({[lag.id]: 'unchanged', [unused.id]: 'unchanged', z9: 'new'})
    // The report keeps every finding: only its gate changed.
    expect(worse.report.findings).toHaveLength(3)
  })
})
