/**
 * The fleet summary at the top of every report format, and absent from a report of one target (which therefore does
 * not change). The report is the fixture's, its targets put in two groups and one more target added, the summary
 * computed by the core as buildReport does.
 */
import {describe, expect, it} from 'vitest'
import {buildReport} from '../../../src/core/audit.js'
import {FLEET_MIN_TARGETS, fleetSummary} from '../../../src/core/fleet.js'
import type {Report} from '../../../src/core/types.js'
import {renderHtml} from '../../../src/reporters/html.js'
import {renderJson} from '../../../src/reporters/json.js'
import {renderMarkdown} from '../../../src/reporters/markdown.js'
import {renderTable} from '../../../src/reporters/table.js'
import {DocumentSchemas} from '../../../src/core/document-schema.js'
import {contextOf, sampleReport} from './fixture.js'

function fleetReport(): Report {
  const base = sampleReport()
  const targets: Report['targets'] = [
    {...base.targets[0], group: 'eu'},
    {...base.targets[1], group: 'eu'},
    {name: 'us-primary', kind: 'postgres', url: 'postgres://app@us:5432/shop', status: 'ok', group: 'us'},
  ]
  return {...base, targets, fleet: fleetSummary(targets, base.findings, base.gate.failOn)}
}

describe('the fleet summary in reports', () => {
  it('heads the table report: the fleet, then each group with its worst findings and the targets not read', async () => {
    const text = await renderTable(contextOf(fleetReport(), {width: 140}))
    const lines = text.split('\n')
    expect(lines[1]).toBe('Fleet: 3 targets: 1 ok, 1 failing, 1 skipped')
    expect(lines.slice(2, 7)).toEqual([
      '  eu: 2 targets: 0 ok, 1 failing, 1 skipped; 1 critical, 1 warning, 1 info',
      '    critical replication/lag replica-1 (primary): replica-1 is 12 s behind the primary; the replay stage lags',
      '    warning database/unused-index "public"."orders_note_idx" (primary): index | with pipe is unused',
      '    info cache/hit-rate x (primary): advice',
      '    not read: cache',
    ])
    expect(lines[7]).toBe('  us: 1 target: 1 ok, 0 failing, 0 skipped; no findings')
    // Before the targets.
    expect(text.indexOf('Fleet:')).toBeLessThan(text.indexOf('│ target'))
  })

  it('heads the markdown and html reports too, and is in the JSON, which the schema accepts', async () => {
    const report = fleetReport()
    const md = await renderMarkdown(contextOf(report))
    expect(md).toContain('**Fleet: 3 targets: 1 ok, 1 failing, 1 skipped**\n\n- **eu**: 2 targets: 0 ok, 1 failing, 1 skipped; 1 critical, 1 warning, 1 info\n  - 🔴 critical replication/lag')
    expect(md).toContain('  - ⚠️ not read: cache\n- **us**: 1 target')
    expect(md.indexOf('**Fleet:')).toBeLessThan(md.indexOf('| target | kind | status |'))
    const html = await renderHtml(contextOf(report))
    expect(html).toContain('<section class="fleet" id="fleet"><h2>Fleet: 3 targets: 1 ok, 1 failing, 1 skipped</h2><ul><li data-group="eu"><strong>eu: 2 targets')
    expect(html.indexOf('id="fleet"')).toBeLessThan(html.indexOf('<table class="targets">'))
    const json = JSON.parse(await renderJson(contextOf(report)))
    expect(json.fleet.groups.map((g: {group: string}) => g.group)).toEqual(['eu', 'us'])
    expect(json.targets[0].group).toBe('eu')
    expect(() => new DocumentSchemas().check('report', json, 'fleet.json')).not.toThrow()
    // The schema does check the summary: a count of the wrong type is refused.
    expect(() => new DocumentSchemas().check('report', {...json, fleet: {...json.fleet, ok: 'many'}}, 'fleet.json')).toThrow(/fleet/)
  })

  it('is absent from a report of one target, in every format', async () => {
    const base = sampleReport()
    const report = buildReport({targets: [base.targets[0]], windowSeconds: 5}, base.findings, base.skipped, 'critical', 'live')
    expect(report.fleet).toBeUndefined()
    expect('fleet' in report).toBe(false)
    expect(await renderTable(contextOf(report, {width: 100}))).not.toContain('Fleet')
    expect(await renderMarkdown(contextOf(report))).not.toContain('Fleet')
    expect(await renderHtml(contextOf(report))).not.toContain('id="fleet"')
  })

  it('is made by buildReport for grouped targets, or for FLEET_MIN_TARGETS ungrouped ones, not for a small stack', () => {
    const base = sampleReport()
    const grouped = base.targets.map((t) => ({...t, group: 'eu'}))
    expect(buildReport({targets: grouped, windowSeconds: 5}, base.findings, base.skipped, 'critical', 'live').fleet).toMatchObject({targets: 2, ok: 0, failing: 1, skipped: 1})
    // A database, its replica and a cache are one system: its report opens with the verdict and the diagnosis.
    expect(buildReport({targets: base.targets, windowSeconds: 5}, base.findings, base.skipped, 'critical', 'live').fleet).toBeUndefined()
    const many = Array.from({length: FLEET_MIN_TARGETS}, (_, i) => ({...base.targets[0], name: `pg-${i}`}))
    expect(buildReport({targets: many, windowSeconds: 5}, [], [], 'critical', 'live').fleet).toMatchObject({targets: FLEET_MIN_TARGETS, ok: FLEET_MIN_TARGETS})
    expect(buildReport({targets: many.slice(1), windowSeconds: 5}, [], [], 'critical', 'live').fleet).toBeUndefined()
  })
})
