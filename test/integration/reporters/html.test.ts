/**
 * The HTML report in a real headless Chromium (Debian's chromium, installed by scripts/test-env.sh), from a real
 * audit of a real stack (html-scenario.ts): loaded from file:// with every request outside file: and data: refused
 * and recorded, no console error, each chart's SVG with as many marks as the report's data has, light and dark
 * schemes and print, and text planted in a finding's message and subject shown as text, never run. A screenshot of
 * each scheme is written to test-output/. `chokepoint report FILE --format html` (the built CLI) renders a saved
 * report the same way, its snapshot-only chart replaced by a one-line note.
 */
import {mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {chromium, type Browser, type Page} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {renderReport} from '../../../src/index.js'
import {readingsOf, readingsWhere} from '../../../src/core/readings.js'
import type {Report, Snapshot} from '../../../src/core/types.js'
import {isQueueData} from '../../../src/readings/queues.js'
import {keysReading} from '../../../src/readings/redis.js'
import {statementsReading} from '../../../src/readings/postgres.js'
import {MAX_BARS} from '../../../src/reporters/html/charts.js'
import {REPO_ROOT, runCli} from '../../helpers/cli.js'
import {auditScenario, type Scenario} from './html-scenario.js'

const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
/** Planted in a finding's message and subject: it must reach the page as text. */
const PLANTED = '</script><script>window.__pwned = 1</script>\u2028<img src=x onerror="window.__pwned = 2">\u2029end'
const OUT = join(REPO_ROOT, 'test-output')

interface Loaded {
  page: Page
  requests: string[]
  refused: string[]
  errors: string[]
}

describe('the HTML report in headless Chromium', () => {
  let scenario: Scenario
  let report: Report
  let snapshot: Snapshot
  let html: string
  let browser: Browser
  let dir: string
  let file: string
  const pages: Page[] = []

  async function load(path: string, colorScheme: 'light' | 'dark'): Promise<Loaded> {
    const context = await browser.newContext({colorScheme, viewport: {width: 1200, height: 900}})
    const page = await context.newPage()
    pages.push(page)
    const loaded: Loaded = {page, requests: [], refused: [], errors: []}
    await context.route('**/*', (route) => {
      const url = route.request().url()
      loaded.requests.push(url)
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue()
      loaded.refused.push(url)
      return route.abort()
    })
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') loaded.errors.push(`${m.type()}: ${m.text()}`)
    })
    page.on('pageerror', (e) => loaded.errors.push(`pageerror: ${e.message}`))
    page.on('requestfailed', (r) => loaded.errors.push(`request failed: ${r.url()}`))
    await page.goto(pathToFileURL(path).href, {waitUntil: 'load'})
    return loaded
  }

  const marks = (page: Page) => page.evaluate(() => Object.fromEntries([...document.querySelectorAll('figure[data-chart]')]
    .map((f) => [f.getAttribute('data-chart'), {marks: f.querySelectorAll('svg .mark').length, svgs: f.querySelectorAll('svg').length, note: f.querySelector('.chart-note')?.textContent ?? null}])))

  beforeAll(async () => {
    scenario = await auditScenario('<b>x</b>')
    ;({report, snapshot} = scenario)
    // The planted text: in the first finding's message and in the subject of a finding of another rule.
    report.findings[0].message = `${report.findings[0].message} ${PLANTED}`
    const other = report.findings.find((f) => f.rule !== report.findings[0].rule)!
    other.subject = `${other.subject} ${PLANTED}`
    html = await renderReport(report, 'html', {snapshot})
    dir = mkdtempSync(join(tmpdir(), 'cp-html-'))
    file = join(dir, 'report.html')
    writeFileSync(file, html)
    browser = await chromium.launch({executablePath: CHROMIUM, args: ARGS})
  }, 300_000)

  afterAll(async () => {
    await browser?.close()
    await scenario?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('is one file: no external script, style, font or image, and the planted text only escaped', () => {
    // Booleans, not the page: a failure here would otherwise print the whole file.
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true)
    expect(/<(script|link|img|iframe)[^>]+(src|href)=/i.test(html)).toBe(false)
    expect(/@import|@font-face|url\(/i.test(html)).toBe(false)
    expect(html.includes('window.__pwned = 1</script>')).toBe(false)
    expect(html.includes('<img src=x')).toBe(false)
    expect(/[\u2028\u2029]/.test(html)).toBe(false)
    // Two scripts: the embedded report and the page's own.
    expect(html.match(/<script/g)).toHaveLength(2)
  })

  it('loads from file:// with no network request and no console error, the embedded report intact', async () => {
    const {page, requests, refused, errors} = await load(file, 'light')
    expect(refused).toEqual([])
    expect(requests).toEqual([pathToFileURL(file).href])
    expect(errors).toEqual([])
    // The planted text ran nowhere and reads as text where it was planted.
    expect(await page.evaluate(() => (window as unknown as {__pwned?: number}).__pwned)).toBeUndefined()
    expect(await page.locator('script').count()).toBe(2)
    expect(await page.locator('img').count()).toBe(0)
    const messages = await page.locator('.finding .message').allTextContents()
    expect(messages.some((m) => m.includes(PLANTED))).toBe(true)
    const subjects = await page.locator('.finding .subject').allTextContents()
    expect(subjects.some((s) => s.includes(PLANTED))).toBe(true)
    const embedded = await page.evaluate(() => (window as unknown as {chokepointReport: unknown}).chokepointReport)
    expect(embedded).toEqual(JSON.parse(JSON.stringify(report)))
  })

  it('puts the verdict, the scaling path and the chokepoints first, then each cause with the findings it explains', async () => {
    const {page} = await load(file, 'light')
    const order = await page.evaluate(() => [...document.querySelectorAll('main > section, main > h2')].map((e) => e.id || e.className))
    // The scenario is one small stack, not a fleet (ungrouped, under 5 targets): no fleet summary above the causes.
    expect(order.slice(0, 5)).toEqual(['verdict', 'path-verdict', 'diagnosis', 'findings', 'group cause'])
    expect(await page.locator('#verdict').getAttribute('data-verdict')).toBe('failed')
    expect(await page.locator('#path-verdict').getAttribute('data-path')).toBe(report.verdict!.path)
    expect(await page.locator('#path-verdict').textContent()).toContain(report.verdict!.decidedBy)
    const diag = await page.locator('.diagnosis > li').evaluateAll((els) => els.map((e) => e.getAttribute('data-diagnosis')))
    expect(diag).toEqual(report.diagnosis.map((d) => d.id))
    // Every symptom is in the group of its cause, after it.
    for (const f of report.findings.filter((x) => x.causeId)) {
      const same = await page.evaluate(([id, cause]) => {
        const el = document.querySelector(`[data-finding="${id}"]`)!
        const group = el.closest('section.group')!
        const root = group.querySelector('.finding')!
        return {grouped: group.querySelector(`[data-finding="${cause}"]`) !== null, rootFirst: root.getAttribute('data-finding') !== id}
      }, [f.id, f.causeId!])
      expect(same).toEqual({grouped: true, rootFirst: true})
    }
    // Remedies come with a copy button over exactly the SQL or command.
    const index = report.findings.flatMap((f) => f.remedies).find((r) => r.kind === 'index')!
    const block = page.locator(`#remedy-${index.id} .code-wrap`).first()
    expect(await block.locator('code').textContent()).toBe(index.sql)
    expect(await block.locator('button.copy').count()).toBe(1)
    // The button puts exactly that text on the clipboard.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'])
    await block.locator('button.copy').click()
    await expect.poll(() => block.locator('button.copy').textContent()).toBe('copied')
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(index.sql)
  })

  it('draws every chart with a mark per data point', async () => {
    const {page} = await load(file, 'light')
    const got = await marks(page)
    const statements = readingsOf(snapshot.readings, statementsReading).flatMap((r) => r.reading.metrics.filter((m) => m.name === 'db.statement.mean_seconds' && typeof m.evidence?.totalMs === 'number'))
    const planned = new Set(report.findings.filter((f) => typeof f.evidence.costBefore === 'number' && typeof f.evidence.costAfter === 'number' && f.evidence.queryid !== undefined).map((f) => `${f.target} ${String(f.evidence.queryid)}`))
    const indexes = new Set(report.findings.flatMap((f) => f.remedies).filter((r) => r.kind === 'index' && typeof (r.estimate as {sizeBytes?: unknown})?.sizeBytes === 'number').map((r) => r.id))
    const patterns = readingsOf(snapshot.readings, keysReading).flatMap((r) => r.data.patterns.filter((p) => typeof p.bytes === 'number'))
    const queues = readingsWhere(snapshot.readings, isQueueData).flatMap((r) => r.data.queues)
    const chain = report.findings.filter((f) => f.rule === 'pool/chain-budget')
    const poolChecks = report.checks.filter((c) => c.rule === 'pool/utilization' && c.value !== null)
    const cells = new Set(report.checks.map((c) => `${c.target} ${report.rules.find((r) => r.id === c.rule)?.area}`))
    // The scenario's data: two planned lookups, their two indexes, a handful of key patterns, two BullMQ queues, a chain.
    expect(planned.size).toBe(2)
    expect(indexes.size).toBe(2)
    expect(patterns.length).toBeGreaterThanOrEqual(3)
    expect(queues.length).toBeGreaterThanOrEqual(2)
    expect(chain).toHaveLength(1)
    const bars = (n: number) => Math.min(n, MAX_BARS)
    expect(got).toEqual({
      'db-time': {marks: bars(statements.length), svgs: 1, note: null},
      'index-cost': {marks: 2 * bars(planned.size), svgs: 1, note: null},
      'index-size': {marks: bars(indexes.size), svgs: 1, note: null},
      'redis-memory': {marks: 2 * bars(patterns.length), svgs: 1, note: null},
      'queue-depth': {marks: bars(queues.length), svgs: 1, note: null},
      'queue-age': {marks: bars(queues.filter((q) => q.oldestAgeSeconds !== null).length), svgs: 1, note: null},
      // The chain: app demand against PgBouncer's pool, and PostgreSQL's connections in use; then each pool now.
      'pool-chain': {marks: bars(2 * chain.length + poolChecks.length), svgs: 1, note: null},
      'checks-heatmap': {marks: cells.size, svgs: 1, note: null},
    })
    // Each mark has a size: drawn, not an empty element (the heaviest statement's bar spans the plot).
    const widths = await page.locator('figure[data-chart="db-time"] svg .mark').evaluateAll((els) => els.map((e) => (e as SVGGraphicsElement).getBBox().width))
    expect(Math.max(...widths)).toBeGreaterThan(100)
  })

  it('is readable in the dark scheme and printable; screenshots of both schemes', async () => {
    mkdirSync(OUT, {recursive: true})
    const colours: Record<string, string> = {}
    for (const scheme of ['light', 'dark'] as const) {
      const {page, errors, refused} = await load(file, scheme)
      expect(errors).toEqual([])
      expect(refused).toEqual([])
      colours[scheme] = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
      const shot = join(OUT, `html-report-${scheme}.png`)
      await page.screenshot({path: shot, fullPage: true})
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG')
      console.log(`screenshot (${scheme}): ${shot}`)
      if (scheme === 'dark') {
        const text = await page.evaluate(() => getComputedStyle(document.querySelector('.chart-svg text')!).fill)
        expect(text).toBe('rgb(230, 237, 243)')
        await page.emulateMedia({media: 'print'})
        expect(await page.locator('button.copy').first().isVisible()).toBe(false)
        expect(await page.evaluate(() => getComputedStyle(document.body).backgroundColor)).toBe('rgb(255, 255, 255)')
        const pdf = join(OUT, 'html-report.pdf')
        await page.pdf({path: pdf})
        console.log(`print (PDF): ${pdf}`)
      }
    }
    expect(colours).toEqual({light: 'rgb(255, 255, 255)', dark: 'rgb(13, 17, 23)'})
  })

  it('chokepoint report FILE --format html renders a saved report; a chart whose data is not in it is a one-line note', async () => {
    const saved = join(dir, 'saved.json')
    writeFileSync(saved, JSON.stringify(report))
    const out = join(dir, 'saved.html')
    const run = runCli(['report', saved, '--format', 'html', '--output', out])
    expect(run.status, run.stderr).toBe(1)
    const {page, errors, refused} = await load(out, 'light')
    expect(errors).toEqual([])
    expect(refused).toEqual([])
    const got = await marks(page)
    // The key sample lives in the snapshot only; queues come from the report's checks instead.
    expect(got['redis-memory']).toEqual({marks: 0, svgs: 0, note: expect.stringMatching(/^The Redis key sample is in the snapshot/)})
    expect(got['queue-depth'].marks).toBe(report.checks.filter((c) => c.rule === 'queue/depth' && c.value !== null).length)
    expect(got['index-cost'].marks).toBeGreaterThan(0)
    expect(got['db-time'].marks).toBeGreaterThan(0)
    expect(await page.evaluate(() => (window as unknown as {__pwned?: number}).__pwned)).toBeUndefined()
  })
})
