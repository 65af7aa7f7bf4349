import {describe, expect, it} from 'vitest'
import {renderReport} from '../../../src/core/render.js'
import {renderJunit} from '../../../src/reporters/junit.js'
import {testContext} from '../../helpers/context.js'
import {HOSTILE_NAMES} from '../../helpers/hostile.js'
import {JUNIT_XSD, validateXml} from '../../helpers/validators.js'
import {contextOf, sampleReport} from './fixture.js'

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&')
/** Each testcase's classname, name and first child element (the output is validated by the XSD; this only reads it). */
const cases = (xml: string) => [...xml.matchAll(/<testcase classname="([^"]*)" name="([^"]*)"[^>]*?(\/>|>\s*<(\w[\w-]*))/g)]
  .map((m) => ({classname: unescape(m[1]), name: unescape(m[2]), outcome: m[4] ?? 'pass'}))

describe('junit reporter', () => {
  it('one testsuite per target, one testcase per check with classname chokepoint.<area>; failures per --fail-on, skipped, errors', async () => {
    const xml = await renderJunit(contextOf(sampleReport()))
    expect(validateXml(xml, JUNIT_XSD)).toBeNull()
    expect([...xml.matchAll(/<testsuite name="([^"]*)" tests="(\d+)" failures="(\d+)" errors="(\d+)" skipped="(\d+)"/g)].map((m) => m.slice(1))).toEqual([
      ['primary', '5', '1', '0', '1'],
      ['cache', '1', '0', '1', '0'],
    ])
    expect(cases(xml)).toEqual([
      {classname: 'chokepoint.replication', name: 'replication/lag replica-1', outcome: 'failure'},
      {classname: 'chokepoint.replication', name: 'replication/lag replica-2', outcome: 'pass'},
      {classname: 'chokepoint.database', name: 'database/slow-statement primary', outcome: 'skipped'},
      // Findings without a check of their own (this sample lists only some checks) still get a testcase; below
      // --fail-on critical they pass, with the finding in system-out.
      {classname: 'chokepoint.database', name: 'database/unused-index "public"."orders_note_idx"', outcome: 'system-out'},
      {classname: 'chokepoint.cache', name: 'cache/hit-rate x', outcome: 'system-out'},
      {classname: 'chokepoint.target', name: 'cache read', outcome: 'error'},
    ])
    expect(xml).toContain('<failure type="critical" message="critical: replica-1 is 12 s behind the primary; the replay stage lags">')
    expect(xml).toContain('remedy [replica-000000000001] replica: Check pg_is_wal_replay_paused()')
    expect(xml).toContain('<skipped message="postgres.statements skipped: pg_stat_statements is not installed"/>')
    expect(xml).toContain('<property name="checksOmitted:replication/lag" value="3"/>')
  })

  it('--fail-on warning fails the warning too; never fails nothing', async () => {
    const warning = sampleReport({gate: {failOn: 'warning', passed: false, incomplete: true, exitCode: 1}})
    const xml = await renderJunit(contextOf(warning))
    expect(cases(xml).filter((c) => c.outcome === 'failure').map((c) => c.name)).toEqual(['replication/lag replica-1', 'database/unused-index "public"."orders_note_idx"'])
    expect(xml).toContain('DROP INDEX CONCURRENTLY "public"."orders_note_idx";')
    const never = await renderJunit(contextOf(sampleReport({gate: {failOn: 'never', passed: true, incomplete: true, exitCode: 3}})))
    expect(cases(never).filter((c) => c.outcome === 'failure')).toEqual([])
  })

  it('names are unique per suite (GitLab collapses duplicates) and hostile text stays well-formed XML', async () => {
    const report = sampleReport()
    report.checks = HOSTILE_NAMES.flatMap((name) => [0, 1].map(() => ({rule: 'cache/hit-rate', target: 'primary', subject: `${name}\u0000\u001b]0;x\u0007 \ud800 <&>"'`,
      status: 'not-evaluated' as const, value: null, threshold: {target: null, action: null}, reason: `${name} ]]> <!-- --> \r\n`})))
    report.findings = []
    const xml = await renderJunit(contextOf(report))
    expect(validateXml(xml, JUNIT_XSD)).toBeNull()
    const names = cases(xml).filter((c) => c.classname === 'chokepoint.cache').map((c) => c.name)
    expect(names).toHaveLength(HOSTILE_NAMES.length * 2)
    expect(new Set(names).size).toBe(names.length)
  })

  it('the schema rejects what CI servers would not read (a check of the validator itself)', () => {
    expect(validateXml('<testsuites><testsuite name="x" tests="1" failures="0" errors="0" skipped="0"><testcase name="a"/></testsuite></testsuites>', JUNIT_XSD)).toMatch(/classname/)
    expect(validateXml('<testsuites><testsuite name="x" tests="one" failures="0" errors="0" skipped="0"/></testsuites>', JUNIT_XSD)).toMatch(/tests/)
  })

  it('is registered and scrubbed of the run\'s secrets', async () => {
    const ctx = testContext()
    ctx.secrets.register('s3cret-in-junit')
    const report = sampleReport()
    report.findings[0].message = 'auth failed with s3cret-in-junit'
    const text = await renderReport(report, 'junit', ctx)
    expect(text).not.toContain('s3cret-in-junit')
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true)
  })
})
