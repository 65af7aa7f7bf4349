import {describe, expect, it} from 'vitest'
import {renderMarkdown} from '../../../src/reporters/markdown.js'
import {renderTable} from '../../../src/reporters/table.js'
import type {NotReadEntry} from '../../../src/core/types.js'
import {contextOf, sampleReport} from './fixture.js'

const GREEN = 'No findings: every rule is inside its target band.'
const gap: NotReadEntry = {target: 'primary', probe: 'postgres.statements', what: 'statement texts', missing: 12, of: 15,
  reason: "other users' statements show '<insufficient privilege>'", fix: 'GRANT pg_read_all_stats TO "we`ird";'}
const complete = {targets: [sampleReport().targets[0]], skipped: [], findings: [], summary: {critical: 0, warning: 0, info: 0},
  gate: {failOn: 'critical' as const, passed: true, incomplete: false, exitCode: 0 as const}}

describe('Not read in human reports', () => {
  it('lists each gap with its count and fix, in the table and in Markdown (code that a backtick cannot break)', async () => {
    const report = sampleReport({notRead: [gap]})
    // Wide enough for the gap's line not to wrap (the table wraps to the terminal's width).
    const table = await renderTable(contextOf(report, {width: 160}))
    expect(table).toContain(`Not read\n  cache: skipped: could not connect: connection refused\n  primary postgres.statements: statement texts: 12 of 15 not read: other users' statements show '<insufficient privilege>'\n      fix: GRANT pg_read_all_stats TO "we\`ird";\n`)
    const markdown = await renderMarkdown(contextOf(report))
    expect(markdown).toContain("- primary `postgres.statements`: statement texts: 12 of 15 not read: other users' statements show '<insufficient privilege>'; fix: `` GRANT pg_read_all_stats TO \"we`ird\"; ``")
    // The gate failed and the audit is incomplete too: said under the heading, not only in Not read.
    expect(markdown.split('\n').slice(0, 3)).toEqual(['## ❌ chokepoint: gate failed (--fail-on critical): 1 critical, 1 warning, 1 info', '',
      '> ⚠️ audit incomplete: target cache not read (see Not read)'])
  })

  it('says "every rule is inside its target band" only when everything was read', async () => {
    expect(await renderTable(contextOf(sampleReport(complete)))).toContain(GREEN)
    expect(await renderMarkdown(contextOf(sampleReport(complete)))).toContain(GREEN)

    const gaps = sampleReport({...complete, notRead: [gap]})
    for (const text of [await renderTable(contextOf(gaps)), await renderMarkdown(contextOf(gaps))]) {
      expect(text).not.toContain(GREEN)
      expect(text).toContain('No findings in what was read; 1 input was read only in part (see Not read).')
    }

    const incomplete = sampleReport({...complete, targets: sampleReport().targets, gate: {...complete.gate, incomplete: true, exitCode: 3}})
    const table = await renderTable(contextOf(incomplete))
    expect(table).not.toContain(GREEN)
    expect(table).toMatch(/└.*\naudit incomplete: target cache not read \(see Not read\)\nNo findings in what was read, but the audit is incomplete: target cache not read \(see Not read\)\./)
    const markdown = await renderMarkdown(contextOf(incomplete))
    expect(markdown.split('\n')[0]).toBe('## ⚠️ chokepoint: audit incomplete: target cache not read (see Not read); 0 critical, 0 warning, 0 info')
    expect(markdown).not.toContain(GREEN)
  })
})
