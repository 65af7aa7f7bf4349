/**
 * Before/after on a real database: a snapshot with a lookup on an unindexed column, one after the index was created
 * (statistics of this database reset, the same lookups run again), and one where a second table's lookup lacks its
 * index. `chokepoint diff` lists the missing index and its seq-scan symptom as resolved and the chokepoint as gone;
 * `check --baseline` passes where the plain check fails, and fails again, on the new problem alone, when one appears.
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import Ajv from 'ajv'
import {chromium} from 'playwright-core'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {postgresProbes} from '../../../src/probes/postgres/index.js'
import {runCli, REPO_ROOT} from '../../helpers/cli.js'
import {schemaOracle} from '../../helpers/fuzz.js'
import {adminQuery, connect, forgetLoadWrites, waitForSql, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'
import {JUNIT_XSD, validateSarif, validateXml} from '../../helpers/validators.js'

const DB = 'cp_diffui_before_after'
const url = withDatabase(PRIMARY_URL, DB)
const tmp = mkdtempSync(join(tmpdir(), 'chokepoint-diff-'))
const before = join(tmp, 'before.json')
const after = join(tmp, 'after.json')
const later = join(tmp, 'later.json')
const mended = join(tmp, 'mended.json')
// Only what this test is about: the shared server's sessions and locks belong to other suites.
const KEEP = ['postgres.tables', 'postgres.statements', 'postgres.plans', 'postgres.indexes']
const config = join(tmp, 'chokepoint.config.yaml')

async function lookups(sql: string, values: unknown[]): Promise<void> {
  const app = await connect(url, 'cp-diffui-app')
  try {
    for (const v of values) await app.query(sql, [v])
  } finally {
    await app.end()
  }
}

/** Forgets this database's statistics (never another's): table counters and its pg_stat_statements entries. */
async function resetOwnStats(): Promise<void> {
  await adminQuery(url, `SELECT pg_stat_reset(); SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`)
}

function capture(file: string): void {
  const r = runCli(['capture', '--pg', url, '--window', '0', '--config', config, '-o', file])
  expect(r.status, r.stderr).toBe(0)
}

/**
 * Loads a page in Debian's headless Chromium (fresh profile, no network: every request but the file refused) and
 * returns what a reader's browser would have complained about, with what the page says of its rows.
 */
async function inChromium(file: string, read: string): Promise<{requests: string[]; errors: string[]; value: unknown}> {
  const browser = await chromium.launch({executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run']})
  try {
    const context = await browser.newContext()
    const page = await context.newPage()
    const requests: string[] = []
    const errors: string[] = []
    await context.route('**/*', (route) => {
      requests.push(route.request().url())
      return route.request().url().startsWith('file:') ? route.continue() : route.abort()
    })
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text())
    })
    page.on('pageerror', (e) => errors.push(e.message))
    await page.goto(pathToFileURL(file).href, {waitUntil: 'load'})
    return {requests, errors, value: await page.evaluate(read)}
  } finally {
    await browser.close()
  }
}

/** Each testcase's name and its outcome element (failure, skipped, error, system-out) or pass. */
const junitCases = (xml: string) => [...xml.matchAll(/<testcase classname="[^"]*" name="([^"]*)"[^>]*?(\/>|>\s*<(\w[\w-]*)(?: type="[^"]*")?(?: message="([^"]*)")?)/g)]
  .map((m) => ({name: m[1], outcome: m[3] ?? 'pass', message: m[4] ?? ''}))
const knownIds = (report: {gate: {baseline: {changes: Record<string, string>}}}) =>
  Object.entries(report.gate.baseline.changes).filter(([, c]) => c === 'unchanged' || c === 'better').map(([id]) => id)

const ORDERS = 'SELECT id, pad FROM orders WHERE customer_id = $1'
const CUSTOMERS = 'SELECT id FROM customers WHERE email = $1'

describe('diff and baseline on two real snapshots, before and after an index', () => {
  beforeAll(async () => {
    writeFileSync(config, `skipProbes: [${postgresProbes.map((p) => p.id).filter((id) => !KEEP.includes(id)).join(', ')}]\n`)
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `CREATE EXTENSION IF NOT EXISTS hypopg; CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      CREATE TABLE orders AS SELECT g AS id, g % 5000 AS customer_id, repeat('x', 200) AS pad FROM generate_series(1, 40000) g;
      CREATE TABLE customers AS SELECT g AS id, 'user' || g || '@example.com' AS email FROM generate_series(1, 40000) g;
      ANALYZE orders; ANALYZE customers;`)
    await forgetLoadWrites(url)
    await resetOwnStats()
    const ids = Array.from({length: 25}, (_, i) => i * 7)
    await lookups(ORDERS, ids)
    await waitForSql(url, `SELECT seq_scan >= 25 AS ok FROM pg_stat_user_tables WHERE relname = 'orders'`)
    capture(before)

    await adminQuery(url, 'CREATE INDEX orders_customer_id_idx ON orders (customer_id); ANALYZE orders')
    await resetOwnStats()
    await lookups(ORDERS, ids)
    await waitForSql(url, `SELECT idx_scan >= 25 AS ok FROM pg_stat_user_tables WHERE relname = 'orders'`)
    capture(after)

    // A new problem: the customers lookup, on a column without an index.
    await lookups(CUSTOMERS, ids.map((i) => `user${i + 1}@example.com`))
    await waitForSql(url, `SELECT seq_scan >= 25 AS ok FROM pg_stat_user_tables WHERE relname = 'customers'`)
    capture(later)

    // Half mended: the customers lookup gets its index, statistics kept, so the table's seq-scan share falls from all
    // to about half (25 seq scans, 20 index scans): critical -> warning, a finding that got better.
    await adminQuery(url, 'CREATE INDEX customers_email_idx ON customers (email); ANALYZE customers')
    await lookups(CUSTOMERS, ids.slice(0, 20).map((i) => `user${i + 1}@example.com`))
    await waitForSql(url, `SELECT idx_scan >= 20 AS ok FROM pg_stat_user_tables WHERE relname = 'customers'`)
    capture(mended)
  }, 240_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('lists the missing index and its seq scans as resolved, the chokepoint gone, and passes', () => {
    const r = runCli(['diff', before, after, '--format', 'json'])
    expect(r.status, r.stderr).toBe(0)
    const diff = JSON.parse(r.stdout)
    const ajv = new Ajv.default({strict: false}).addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
    const validate = ajv.compile(JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'diff.schema.json'), 'utf8')))
    expect(validate(diff), JSON.stringify(validate.errors)).toBe(true)
    const resolved = diff.changes.filter((c: {change: string}) => c.change === 'resolved').map((c: {rule: string; subject: string}) => `${c.rule} ${c.subject}`)
    expect(resolved).toEqual(expect.arrayContaining(['database/missing-index public.orders customer_id', 'database/seq-scan-heavy-table table public.orders']))
    expect(diff.counts).toMatchObject({new: 0, worse: 0})
    expect(diff.chokepoints.resolved).toEqual([expect.stringMatching(/^database\/missing-index on public\.orders customer_id/)])
    expect(diff.old).toMatchObject({passed: false, file: before})
    expect(diff.new).toMatchObject({passed: true, file: after})
    expect(diff.verdict).toMatchObject({changed: true, text: expect.stringMatching(/^gate failed -> passed: 1 critical/)})

    // The same in the terminal (80 columns: every line fits) and in Markdown.
    const table = runCli(['diff', before, after], {env: {COLUMNS: '80'}})
    expect(table.status).toBe(0)
    expect(table.stdout).toMatch(/^Resolved \(\d+\)$/m)
    for (const line of table.stdout.trimEnd().split('\n')) expect(line.length, line).toBeLessThanOrEqual(80)
    const md = runCli(['diff', before, after, '--format', 'markdown'])
    expect(md.stdout).toMatch(/^\| resolved \| critical \| `database\/seq-scan-heavy-table` \|/m)

    // Backwards, the index's loss is new and fails the diff.
    const back = runCli(['diff', after, before, '--format', 'json'])
    expect(back.status).toBe(1)
    expect(JSON.parse(back.stdout).changes.filter((c: {change: string}) => c.change === 'new').map((c: {rule: string}) => c.rule))
      .toEqual(expect.arrayContaining(['database/missing-index', 'database/seq-scan-heavy-table']))
  })

  it('check --baseline passes where the plain check fails, and says how many known findings it ignored', () => {
    const plain = runCli(['check', '--from-snapshot', before, '--config', config])
    expect(plain.status, plain.stdout).toBe(1)
    expect(plain.stdout).toMatch(/^CRITICAL database\/seq-scan-heavy-table .* table public\.orders/m)
    const known = runCli(['check', '--from-snapshot', before, '--config', config, '--baseline', before])
    expect(known.status, known.stdout).toBe(0)
    expect(known.stdout).not.toMatch(/^CRITICAL/m)
    expect(known.stdout).toMatch(/^gate passed \(--fail-on critical\): 1 critical, .*; 0 new or worse, [1-9]\d* known in baseline .*before\.json ignored$/m)
  })

  it('fails again, on the new problem alone, when one appears', () => {
    const r = runCli(['check', '--from-snapshot', later, '--config', config, '--baseline', before, '--fail-on', 'warning', '--format', 'json'])
    expect(r.status, r.stdout).toBe(1)
    const report = JSON.parse(r.stdout)
    expect(report.gate).toMatchObject({passed: false, exitCode: 1, baseline: {file: before, failing: expect.any(Number)}})
    expect(report.gate.baseline.failing).toBeGreaterThanOrEqual(1)
    const terse = runCli(['check', '--from-snapshot', later, '--config', config, '--baseline', before, '--fail-on', 'warning'])
    expect(terse.status).toBe(1)
    const failing = terse.stdout.split('\n').filter((l) => /^(CRITICAL|WARNING) /.test(l))
    expect(failing.length).toBeGreaterThanOrEqual(1)
    // Only the customers table's problem is listed; nothing about orders (it was in the baseline, and is fixed).
    for (const line of failing) expect(line).toMatch(/customers/)
  })

  describe('check --baseline in every format', () => {
    const out = (name: string) => join(tmp, name)
    const formats = (prefix: string) => ['--format', `json=${out(`${prefix}.json`)}`, '--format', `sarif=${out(`${prefix}.sarif`)}`,
      '--format', `junit=${out(`${prefix}.xml`)}`, '--format', `html=${out(`${prefix}.html`)}`]
    const read = (prefix: string) => ({report: JSON.parse(readFileSync(out(`${prefix}.json`), 'utf8')), sarif: readFileSync(out(`${prefix}.sarif`), 'utf8'),
      junit: readFileSync(out(`${prefix}.xml`), 'utf8'), html: readFileSync(out(`${prefix}.html`), 'utf8')})
    const STATE: Record<string, string> = {new: 'new', worse: 'updated', better: 'updated', unchanged: 'unchanged'}

    it('all known (the baseline is the run itself): exit 0, no JUnit failure, SARIF "unchanged", HTML badges and count', () => {
      const plain = runCli(['check', '--from-snapshot', before, '--config', config, '--fail-on', 'warning', '--format', `junit=${out('plain.xml')}`])
      expect(plain.status, plain.stdout).toBe(1)
      const plainFailures = junitCases(readFileSync(out('plain.xml'), 'utf8')).filter((c) => c.outcome === 'failure')
      expect(plainFailures.length).toBeGreaterThanOrEqual(1)

      const r = runCli(['check', '--from-snapshot', before, '--config', config, '--fail-on', 'warning', '--baseline', before, ...formats('known')])
      expect(r.status, r.stdout + r.stderr).toBe(0)
      const {report, sarif, junit, html} = read('known')
      expect(report.gate.baseline).toMatchObject({file: before, failing: 0, ignored: report.findings.length})
      expect(Object.keys(report.gate.baseline.changes).sort()).toEqual(report.findings.map((f: {id: string}) => f.id).sort())

      // JUnit: what failed without the baseline is skipped, saying so; nothing fails, as the exit says.
      expect(validateXml(junit, JUNIT_XSD)).toBeNull()
      const cases = junitCases(junit)
      expect(cases.filter((c) => c.outcome === 'failure')).toEqual([])
      for (const failed of plainFailures) {
        expect(cases.find((c) => c.name === failed.name)).toMatchObject({outcome: 'skipped', message: expect.stringMatching(/^known in baseline .*before\.json: (critical|warning): /)})
      }

      const run = JSON.parse(sarif).runs[0]
      expect(run.results.map((x: {baselineState: string}) => x.baselineState)).toEqual(report.findings.map(() => 'unchanged'))
      expect(run.properties.baseline).toMatchObject({file: before, known: report.findings.length, failing: 0, new: 0, worse: 0})
      expect(validateSarif(sarif).filter((p) => p.level === 'error')).toEqual([])

      expect(html.match(/<span class="badge known" data-baseline="(unchanged|better)"/g)).toHaveLength(report.findings.length)
      expect(html).toMatch(new RegExp(`<section class="verdict passed"[^]*?<div class="baseline" data-known="${report.findings.length}" data-failing="0">`))
    }, 120_000)

    it('a new problem on top: only it fails, in the exit, the JUnit failures and the SARIF "new" results alike', async () => {
      const r = runCli(['check', '--from-snapshot', later, '--config', config, '--fail-on', 'warning', '--baseline', after, ...formats('mixed')])
      expect(r.status, r.stdout + r.stderr).toBe(1)
      const {report, sarif, junit, html} = read('mixed')
      const changes: Record<string, string> = report.gate.baseline.changes
      const fresh = report.findings.filter((f: {id: string}) => changes[f.id] === 'new' || changes[f.id] === 'worse')
      const known = knownIds(report)
      expect(fresh.length).toBeGreaterThanOrEqual(1)
      expect(known.length, JSON.stringify(changes)).toBeGreaterThanOrEqual(1)
      expect(known.length).toBe(report.gate.baseline.ignored)
      // gate.baseline.changes is part of the version-3 report schema.
      expect(schemaOracle().report(report)).toBe(true)
      expect(schemaOracle().report({...report, gate: {...report.gate, baseline: {...report.gate.baseline, changes: {x: 'resolved'}}}})).toBe(false)

      expect(validateXml(junit, JUNIT_XSD)).toBeNull()
      const failures = junitCases(junit).filter((c) => c.outcome === 'failure')
      const atOrAbove = fresh.filter((f: {severity: string}) => f.severity !== 'info')
      expect(failures.length).toBe(report.gate.baseline.failing)
      expect(failures.length).toBe(atOrAbove.length)
      for (const f of failures) expect(f.name).toMatch(/customers/)

      const run = JSON.parse(sarif).runs[0]
      for (const res of run.results) expect(res.baselineState, res.properties.findingId).toBe(STATE[changes[res.properties.findingId]])
      expect(run.results.filter((x: {baselineState: string}) => x.baselineState === 'new').map((x: {properties: {findingId: string}}) => x.properties.findingId).sort())
        .toEqual(report.findings.filter((f: {id: string}) => changes[f.id] === 'new').map((f: {id: string}) => f.id).sort())
      expect(run.properties.baseline).toMatchObject({file: after, known: known.length, failing: report.gate.baseline.failing})
      expect(validateSarif(sarif).filter((p) => p.level === 'error')).toEqual([])

      const badged = [...html.matchAll(/data-finding="([^"]+)"[^>]*>(?:(?!<div class="finding).)*?<span class="badge known"/gs)].map((m) => m[1]).sort()
      expect(badged).toEqual([...known].sort())
      expect(html).toContain(`data-known="${known.length}" data-failing="${report.gate.baseline.failing}"`)
      // What a reader sees: the badges on exactly the known findings, the count under the verdict, nothing fetched.
      const seen = await inChromium(out('mixed.html'), `({known: [...document.querySelectorAll('.finding')].filter((f) => f.querySelector('.head .badge.known')).map((f) => f.dataset.finding).sort(),
        count: document.querySelector('#verdict .baseline').dataset.known})`)
      expect(seen).toEqual({requests: [pathToFileURL(out('mixed.html')).href], errors: [], value: {known: [...known].sort(), count: String(known.length)}})
    }, 120_000)
  })

  it('a severity that fell is better, that rose worse, with the value change; check --baseline fails on the worse one', () => {
    const key = (c: {rule: string; subject: string}) => `${c.rule} ${c.subject}`
    const SEQ = 'database/seq-scan-heavy-table table public.customers'
    const down = runCli(['diff', later, mended, '--format', 'json'])
    const fell = JSON.parse(down.stdout).changes.find((c: {rule: string; subject: string}) => key(c) === SEQ)
    expect(fell, down.stdout).toMatchObject({change: 'better', severity: {old: 'critical', new: 'warning'}, valueText: expect.stringMatching(/^100(\.0)?% -> [5-8]\d(\.\d)?%$/)})
    const up = runCli(['diff', mended, later, '--fail-on', 'warning', '--format', 'json', '--format', `markdown=${join(tmp, 'up.md')}`, '--format', `html=${join(tmp, 'up.html')}`])
    expect(up.status).toBe(1)
    const rose = JSON.parse(up.stdout).changes.find((c: {rule: string; subject: string}) => key(c) === SEQ)
    expect(rose).toMatchObject({change: 'worse', severity: {old: 'warning', new: 'critical'}})
    expect(readFileSync(join(tmp, 'up.md'), 'utf8')).toMatch(/^\| worse \| warning -> critical \| `database\/seq-scan-heavy-table` \| .* \| table public\.customers \|/m)
    expect(readFileSync(join(tmp, 'up.html'), 'utf8')).toMatch(new RegExp(`<tr data-change="worse" data-finding="${rose.id}"><td><span class="badge critical">warning -&gt; critical</span>`))

    // As a gate: the finding the baseline had as a warning is critical now, so it fails, and only it is "updated".
    const sarif = join(tmp, 'worse.sarif')
    const junit = join(tmp, 'worse.xml')
    const page = join(tmp, 'worse.html')
    const r = runCli(['check', '--from-snapshot', later, '--config', config, '--baseline', mended, '--format', `sarif=${sarif}`, '--format', `junit=${junit}`, '--format', `html=${page}`])
    expect(r.status, r.stdout).toBe(1)
    expect(r.stdout).toMatch(/^CRITICAL database\/seq-scan-heavy-table .* table public\.customers/m)
    const updated = JSON.parse(readFileSync(sarif, 'utf8')).runs[0].results.filter((x: {baselineState: string}) => x.baselineState === 'updated')
    expect(updated.map((x: {ruleId: string; properties: {subject: string; baselineChange: string}}) => [x.ruleId, x.properties.subject, x.properties.baselineChange]))
      .toContainEqual(['database/seq-scan-heavy-table', 'table public.customers', 'worse'])
    expect(junitCases(readFileSync(junit, 'utf8')).filter((c) => c.outcome === 'failure').map((c) => c.name)).toContain('database/seq-scan-heavy-table table public.customers')
    expect(readFileSync(page, 'utf8')).toMatch(/data-severity="critical"><div class="head">(?:(?!<\/div>).)*table public\.customers(?:(?!<\/div>).)*<span class="badge worse" data-baseline="worse"/s)
  })

  describe('diff in every format', () => {
    it('html: a self-contained page with the resolved findings, the chokepoint gone and the verdict change; Chromium reads it', async () => {
      const file = join(tmp, 'diff.html')
      const r = runCli(['diff', before, after, '--format', 'table', '--format', `html=${file}`, '--format', `json=${join(tmp, 'diff.json')}`])
      expect(r.status, r.stderr).toBe(0)
      expect(r.stdout).toMatch(/^Resolved \(\d+\)$/m)
      const html = readFileSync(file, 'utf8')
      const diff = JSON.parse(readFileSync(join(tmp, 'diff.json'), 'utf8'))
      expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/)
      expect(html).toMatch(/<section class="verdict passed" id="verdict" data-verdict="passed" data-verdict-changed="true">/)
      expect(html).toContain('verdict: gate failed -&gt; passed')
      expect(html.match(/<tr data-change="resolved"/g)).toHaveLength(diff.counts.resolved)
      expect(html).toMatch(/<li data-chokepoint="resolved">gone: database\/missing-index on public\.orders customer_id/)
      const embedded = /<script type="application\/json" id="chokepoint-diff">([^<]*)<\/script>/.exec(html)![1]
      expect(JSON.parse(embedded).changes).toEqual(diff.changes)
      const seen = await inChromium(file, `({rows: Object.fromEntries(['new', 'worse', 'resolved', 'better'].map((k) => [k, document.querySelectorAll('tr[data-change="' + k + '"]').length])),
        verdict: document.querySelector('#verdict').dataset.verdict})`)
      expect(seen).toEqual({requests: [pathToFileURL(file).href], errors: [],
        value: {rows: {new: diff.counts.new, worse: diff.counts.worse, resolved: diff.counts.resolved, better: diff.counts.better}, verdict: 'passed'}})
    }, 60_000)

    it('sarif: the new run\'s results with their baselineState, the resolved ones "absent"; valid for GitHub', () => {
      const r = runCli(['diff', before, later, '--fail-on', 'warning', '--format', 'sarif', '--format', `json=${join(tmp, 'diff2.json')}`])
      expect(r.status, r.stderr).toBe(1)
      const diff = JSON.parse(readFileSync(join(tmp, 'diff2.json'), 'utf8'))
      const run = JSON.parse(r.stdout).runs[0]
      const stateOf = new Map(run.results.map((x: {properties: {findingId: string}; baselineState: string}) => [x.properties.findingId, x.baselineState]))
      const expected: Record<string, string> = {new: 'new', worse: 'updated', better: 'updated', unchanged: 'unchanged', resolved: 'absent'}
      for (const c of diff.changes) expect(stateOf.get(c.id), `${c.change} ${c.rule} ${c.subject}`).toBe(expected[c.change])
      expect(run.results).toHaveLength(diff.changes.length)
      expect(run.properties.baseline).toMatchObject({file: before, absent: diff.counts.resolved, new: diff.counts.new})
      expect(validateSarif(r.stdout).filter((p) => p.level === 'error')).toEqual([])
    }, 120_000)

    it('saved reports diff as their snapshots do, and a report against a snapshot too', () => {
      const saved = (snap: string, name: string) => {
        const r = runCli(['report', snap, '--config', config, '--format', `json=${join(tmp, name)}`])
        expect(r.stderr).toBe('')
        return join(tmp, name)
      }
      const changes = (a: string, b: string) => JSON.parse(runCli(['diff', a, b, '--config', config, '--format', 'json']).stdout).changes
        .map((c: {change: string; id: string; valueText: string}) => `${c.change} ${c.id} ${c.valueText}`).sort()
      const fromSnapshots = changes(before, later)
      expect(fromSnapshots.length).toBeGreaterThan(2)
      const beforeReport = saved(before, 'before-report.json')
      expect(changes(beforeReport, saved(later, 'later-report.json'))).toEqual(fromSnapshots)
      expect(changes(beforeReport, later)).toEqual(fromSnapshots)
    })

    it('junit or an unknown format: one line, exit 2, naming the formats a diff renders', () => {
      for (const format of ['junit', 'pdf']) {
        const r = runCli(['diff', before, after, '--format', format])
        expect(r.status).toBe(2)
        expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
        expect(r.stderr).toMatch(/table, markdown, json, html, sarif/)
        // JUnit has its own answer: what it would carry is check --baseline's gate.
        if (format === 'junit') expect(r.stderr).toMatch(/check --from-snapshot NEW --baseline OLD --format junit/)
      }
      // The help lists exactly these, each rendered by a test above.
      const help = runCli(['diff', '--help']).stdout.replace(/\s+/g, ' ')
      expect(help).toContain('--format=<value>... Output format: table, markdown, json, html, sarif (sarif:')
    })
  })

  it('the terminal table of a real audit fits the terminal: one entry per finding below 120 columns, the bordered table from 120', () => {
    const findings = JSON.parse(runCli(['report', before, '--config', config, '--format', 'json']).stdout).findings as Array<{severity: string; subject: string}>
    expect(findings.length).toBeGreaterThanOrEqual(2)
    for (const columns of [72, 119, 120, 170]) {
      const r = runCli(['report', before, '--config', config], {env: {COLUMNS: String(columns)}})
      expect(r.status, r.stderr).toBe(1)
      const lines = r.stdout.trimEnd().split('\n')
      const wide = lines.filter((l) => [...l].length > columns)
      expect(wide, `${columns} columns`).toEqual([])
      if (columns < 120) {
        expect(r.stdout, `${columns} columns`).not.toMatch(/[│┌┐]/)
        const entries = lines.filter((l) => /^ *(└ )?\[\d+\] (critical|warning|info) /.test(l))
        expect(entries, `${columns} columns`).toHaveLength(findings.length)
      } else expect(r.stdout, `${columns} columns`).toMatch(/┌/)
      // The long target name goes by one short name everywhere, given in full once.
      const full = `postgres:127.0.0.1:${new URL(PRIMARY_URL).port}/${DB}`
      const short = new RegExp(`^ +(\\S+) = ${full.replace(/[.]/g, '\\.')}$`, 'm').exec(r.stdout)?.[1]
      expect(short, r.stdout).toBeDefined()
      expect([...short!].length).toBeLessThanOrEqual(20)
      expect(r.stdout.split(full)).toHaveLength(2)
      expect(r.stdout.replace(/\s+/g, ' ').split(short!).length - 1).toBeGreaterThanOrEqual(findings.length)
    }
  })
})
