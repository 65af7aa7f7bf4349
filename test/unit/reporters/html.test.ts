import {describe, expect, it} from 'vitest'
import {renderReport} from '../../../src/index.js'
import {SecretRegistry} from '../../../src/core/redact.js'
import {renderHtml} from '../../../src/reporters/html.js'
import {buildCharts} from '../../../src/reporters/html/charts.js'
import {esc, jsonForScript} from '../../../src/reporters/html/escape.js'
import {contextOf, sampleReport} from './fixture.js'

const HOSTILE = '</script><script>alert(1)</script>\u2028<!-- \u2029 & "q" \'s\''

describe('html reporter', () => {
  it('embeds the report as JSON that no text in it can end, and that parses back to the report', () => {
    const value = {message: HOSTILE, nested: [HOSTILE]}
    const text = jsonForScript(value)
    expect(/[<>&\u2028\u2029]/.test(text)).toBe(false)
    expect(JSON.parse(text)).toEqual(value)
    expect(esc(HOSTILE)).toBe('&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#x2028;&lt;!-- &#x2029; &amp; &quot;q&quot; &#39;s&#39;')
  })

  it('is registered as --format html and escapes what the report carries', async () => {
    const report = sampleReport()
    report.findings[0].message = HOSTILE
    report.targets[0].name = HOSTILE
    const html = await renderReport(report, 'html')
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true)
    expect(html.match(/<script/g)).toHaveLength(2)
    expect(html.includes('<script>alert(1)')).toBe(false)
    expect(html).toContain('&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;')
    // The verdict, then the targets, then the findings; an incomplete failed gate says both.
    expect(html.indexOf('data-verdict="failed"')).toBeLessThan(html.indexOf('id="findings"'))
    expect(html).toContain('audit incomplete: target cache not read')
    expect(html).toContain('DROP INDEX CONCURRENTLY &quot;public&quot;.&quot;orders_note_idx&quot;;</code></pre><button class="copy"')
  })

  it('omits each chart whose data the report lacks, with one line saying why, and draws the checks heat map', async () => {
    const charts = buildCharts(contextOf(sampleReport()))
    const byId = Object.fromEntries(charts.map((c) => [c.id, c]))
    for (const id of ['db-time', 'index-cost', 'index-size', 'redis-memory', 'queue-depth', 'queue-age', 'pool-chain']) {
      expect(byId[id].svg, id).toBeUndefined()
      expect(byId[id].marks, id).toBe(0)
      expect(byId[id].note, id).toMatch(/^[^\n]+\.$/)
    }
    // Checks of two areas on one target: two cells.
    expect(byId['checks-heatmap'].marks).toBe(2)
    const html = await renderHtml(contextOf(sampleReport()))
    expect(html.match(/<figure data-chart="[a-z-]+" data-marks="0"><figcaption>[^<]+<\/figcaption><p class="chart-note">/g)).toHaveLength(7)
  })

  it('says there are no findings, and why not "all clear" when the audit is incomplete', async () => {
    const html = await renderHtml(contextOf(sampleReport({findings: [], summary: {critical: 0, warning: 0, info: 0}, gate: {failOn: 'critical', passed: true, incomplete: true, exitCode: 3}})))
    expect(html).toContain('data-verdict="incomplete"')
    expect(html).toContain('No findings in what was read, but the audit is incomplete')
  })

  it('carries no secret, in none of the forms the page writes text in (HTML-escaped, \\u-escaped JSON)', async () => {
    const password = `pw&<'"x>\u2028-${process.pid}`
    const secrets = new SecretRegistry()
    secrets.register(password)
    const report = sampleReport()
    report.findings[0].message = `login failed for password ${password} (echoed by a driver)`
    report.findings[0].subject = password
    const html = await renderReport(report, 'html', {secrets})
    const json = JSON.stringify(password).slice(1, -1)
    const forms = [password, esc(password), json, jsonForScript(password).slice(1, -1), 'pw&amp;&lt;']
    expect(forms.filter((form) => html.includes(form))).toEqual([])
    expect(html).toContain('login failed for password ***')
  })
})
