import {describe, expect, it} from 'vitest'
import {renderTable} from '../../../src/reporters/table.js'
import {contextOf, sampleReport} from './fixture.js'

const ANSI = /\u001b\[[0-9;]*m/

describe('table reporter', () => {
  it('shows targets, numbered findings with their remedies, what was not read, and the verdict', async () => {
    const text = await renderTable(contextOf(sampleReport(), {color: false, verbose: false}))
    expect(text).not.toMatch(ANSI)
    // Cells wrap with the terminal width: read the findings table as flowing text.
    const flowing = text.replace(/[│┌┐└┘├┤┬┴┼─]/g, ' ').replace(/\s+/g, ' ')
    expect(flowing).toMatch(/replica-1 is 12 s behind the primary/)
    expect(text).toMatch(/\[2\] drop-index: Drop it\n\s+DROP INDEX CONCURRENTLY "public"."orders_note_idx";/)
    expect(text).toMatch(/cache: skipped: could not connect: connection refused/)
    expect(text).toMatch(/postgres.statements: skipped: pg_stat_statements is not installed/)
    expect(text.trim().split('\n').pop()).toBe('gate failed (--fail-on critical): 1 critical, 1 warning, 1 info')
    expect(text).not.toMatch(/round trips/)
  })

  it('prints a remedy shared by several findings once, naming the others', async () => {
    const report = sampleReport()
    report.findings[2].remedies = [{...report.findings[1].remedies[0]}]
    const text = await renderTable(contextOf(report, {color: false, verbose: false}))
    expect(text.match(/DROP INDEX CONCURRENTLY/g)).toHaveLength(1)
    expect(text).toMatch(/\[2\] drop-index: Drop it \(also for \[3\]\)/)
  })

  it('tells apart the remedies of one finding by a letter, and leaves a lone remedy unlettered', async () => {
    const report = sampleReport()
    report.findings[0].remedies.push({id: 'config-000000000009', kind: 'config', summary: 'Raise wal_keep_size', applier: null})
    const text = await renderTable(contextOf(report, {color: false, verbose: false, width: 160}))
    expect(text).toMatch(/\[1a\] replica: Check pg_is_wal_replay_paused\(\)/)
    expect(text).toMatch(/\[1b\] config: Raise wal_keep_size/)
    expect(text).toMatch(/\[2\] drop-index: Drop it/)
  })

  it('repeats a threshold only when the message does not already state it', async () => {
    const report = sampleReport()
    report.findings[0].message = 'lag is 12 s (act > 5s)'
    const text = await renderTable(contextOf(report, {color: false, verbose: false}))
    expect(text).not.toMatch(/target <= 1s, act > 5s/)
    expect(text).toMatch(/target >= 80%, act < 70%/)
  })

  it('colours only when asked, and lists the commands issued in verbose mode', async () => {
    expect(await renderTable(contextOf(sampleReport(), {color: true, verbose: false}))).toMatch(ANSI)
    expect(await renderTable(contextOf(sampleReport(), {color: false, verbose: true}))).toMatch(/primary: 9 round trips\n\s+postgres.connections x1: SELECT .../)
  })

  it('says so plainly when there is nothing to fix', async () => {
    const text = await renderTable(contextOf(sampleReport({findings: [], skipped: [], targets: [], summary: {critical: 0, warning: 0, info: 0},
      gate: {failOn: 'critical', passed: true, incomplete: false, exitCode: 0}}), {color: false, verbose: false}))
    expect(text).toMatch(/No findings/)
    expect(text).toMatch(/gate passed/)
  })
})
