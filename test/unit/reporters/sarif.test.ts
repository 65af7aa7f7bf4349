import {describe, expect, it} from 'vitest'
import {renderReport} from '../../../src/core/render.js'
import type {RunFiles} from '../../../src/core/reporter.js'
import type {Finding} from '../../../src/core/types.js'
import {FINGERPRINT_KEY, renderSarif, SARIF_MAX_RESULTS, SRCROOT} from '../../../src/reporters/sarif.js'
import {testContext} from '../../helpers/context.js'
import {validateSarif} from '../../helpers/validators.js'
import {contextOf, sampleReport} from './fixture.js'

const files: RunFiles = {root: '/repo', cwd: '/repo/ops', anchor: '/repo/README.md'}

async function sarifOf(report = sampleReport(), f: RunFiles = files, warn?: (line: string) => void) {
  return JSON.parse(await renderSarif(contextOf(report, {files: f, warn})))
}

describe('sarif reporter', () => {
  it('gives one result per finding with its level, message, stable fingerprint and remedies; rules from the report', async () => {
    const report = sampleReport()
    report.findings[1].causeId = 'a1'
    const run = (await sarifOf(report)).runs[0]
    expect(run.tool.driver.rules.map((r: any) => r.id)).toEqual(['replication/lag', 'database/unused-index', 'cache/hit-rate'])
    expect(run.tool.driver.rules[0]).toMatchObject({name: 'ReplicationLag', shortDescription: {text: 'Replication lag.'}, fullDescription: {text: 'How far a standby is behind.'}})
    expect(run.results.map((r: any) => [r.ruleId, r.level])).toEqual([['replication/lag', 'error'], ['database/unused-index', 'warning'], ['cache/hit-rate', 'note']])
    const unused = run.results[1]
    expect(unused.partialFingerprints).toEqual({[FINGERPRINT_KEY]: 'b2'})
    expect(unused.message.text).toBe('primary: index | with pipe is unused.')
    expect(unused.properties).toMatchObject({severity: 'warning', causeId: 'a1', remedies: [{id: 'drop-index-000000000002', kind: 'drop-index', sql: 'DROP INDEX CONCURRENTLY "public"."orders_note_idx";'}]})
    expect(run.tool.driver.rules[unused.ruleIndex].id).toBe('database/unused-index')
    // The unreachable target and the incomplete audit are said in the invocation.
    expect(run.invocations[0].executionSuccessful).toBe(false)
    expect(run.invocations[0].toolExecutionNotifications.map((n: any) => n.message.text)).toContain('target cache not read: could not connect: connection refused.')
  })

  it('says the path verdict in the run\'s properties, not as a result', async () => {
    const verdict = {path: 'indexes' as const, headline: 'fix the indexes first', target: 'primary', share: 0.8, decidedBy: 'the indexes save 80%', wouldChange: 'w', considered: []}
    const run = (await sarifOf(sampleReport({verdict}))).runs[0]
    expect(run.properties.scalingPath).toEqual({path: 'indexes', headline: 'fix the indexes first', target: 'primary', decidedBy: 'the indexes save 80%'})
    expect(run.results).toHaveLength(3)
  })

  it('fingerprints come from rule, target and subject (the finding id), not from values or wording', async () => {
    const a = sampleReport()
    const b = sampleReport()
    b.findings[0].value = 99
    b.findings[0].message = 'replica-1 is 99 s behind'
    const fp = async (r: typeof a) => (await sarifOf(r)).runs[0].results.map((x: any) => x.partialFingerprints[FINGERPRINT_KEY])
    expect(await fp(b)).toEqual(await fp(a))
  })

  it('anchors a statement finding to its --queries line, others to the config file, else the anchor; paths relative to the root', async () => {
    const report = sampleReport()
    report.findings[0].evidence = {origin: {file: 'db/work load.sql', line: 7}}
    report.findings[1].evidence = {origin: {file: '/elsewhere/q.sql', line: 3}}
    const loc = (r: any) => [r.locations[0].physicalLocation.artifactLocation, r.locations[0].physicalLocation.region.startLine]
    let run = (await sarifOf(report)).runs[0]
    expect(run.originalUriBaseIds[SRCROOT].uri).toBe('file:///repo/')
    expect(loc(run.results[0])).toEqual([{uri: 'ops/db/work%20load.sql', uriBaseId: SRCROOT}, 7])
    // Outside the repository: not a location GitHub can show; the anchor instead.
    expect(loc(run.results[1])).toEqual([{uri: 'README.md', uriBaseId: SRCROOT}, 1])
    run = (await sarifOf(report, {...files, config: '/repo/ops/chokepoint.config.yaml'})).runs[0]
    expect(loc(run.results[0])).toEqual([{uri: 'ops/db/work%20load.sql', uriBaseId: SRCROOT}, 7])
    expect(loc(run.results[1])).toEqual([{uri: 'ops/chokepoint.config.yaml', uriBaseId: SRCROOT}, 1])
    expect(loc(run.results[2])).toEqual([{uri: 'ops/chokepoint.config.yaml', uriBaseId: SRCROOT}, 1])
  })

  it('keeps GitHub\'s 25,000 results per run, the most severe, and says what it cut in the run and on stderr', async () => {
    const report = sampleReport()
    const base = report.findings[2]
    const many: Finding[] = Array.from({length: SARIF_MAX_RESULTS + 2}, (_, i) => ({...base, id: `i${i}`, subject: `s${i}`}))
    report.findings = [...many, report.findings[0]]
    const warnings: string[] = []
    const text = await renderSarif(contextOf(report, {files, warn: (l) => warnings.push(l)}))
    const run = JSON.parse(text).runs[0]
    expect(run.results).toHaveLength(SARIF_MAX_RESULTS)
    expect(run.results[0].ruleId).toBe('replication/lag')
    expect(run.properties.resultsOmitted).toMatchObject({count: 3, of: SARIF_MAX_RESULTS + 3, info: 3, critical: 0, limit: SARIF_MAX_RESULTS})
    expect(run.invocations[0].toolExecutionNotifications[0].message.text).toMatch(/^3 of 25003 findings left out of the SARIF \(0 critical, 0 warning, 3 info\)/)
    expect(warnings).toEqual([expect.stringMatching(/^sarif: 3 of 25003 findings left out/)])
    // (The Multitool takes about 90 s over these 30 MB on this machine, so the validation tests below use small files.)
  })

  it('passes the SARIF Multitool with GitHub\'s ingestion rules: no errors', async () => {
    const report = sampleReport()
    report.findings[0].evidence = {origin: {file: 'db/q.sql', line: 2}}
    const problems = validateSarif(await renderSarif(contextOf(report, {files})))
    expect(problems.filter((p) => p.level === 'error')).toEqual([])
  }, 60_000)

  it('is registered and scrubbed of the run\'s secrets', async () => {
    const ctx = testContext()
    ctx.secrets.register('s3cret-in-message')
    const report = sampleReport()
    report.findings[0].message = 'auth failed with s3cret-in-message'
    const text = await renderReport(report, 'sarif', {...ctx, options: {files}})
    expect(text).not.toContain('s3cret-in-message')
    expect(JSON.parse(text).version).toBe('2.1.0')
  })
})
