/**
 * Several outputs from one audit, through the built CLI (`npm run build` first): --format FORMAT[=PATH] repeated for
 * audit, check and report, on a real PostgreSQL with a missing index planted through a --queries file, so SARIF's
 * line anchoring is exercised. SARIF is validated with Microsoft's SARIF Multitool (GitHub's rules), JUnit with xmllint.
 */
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli} from '../../helpers/cli.js'
import {adminQuery, forgetLoadWrites, withDatabase, PGBOUNCER_STATS_URL, PRIMARY_URL} from '../../helpers/pg.js'
import {JUNIT_XSD, validateSarif, validateXml} from '../../helpers/validators.js'

const DB = 'cp_sarif_formats'
const url = withDatabase(PRIMARY_URL, DB)
const TARGET = `postgres:127.0.0.1:${new URL(PRIMARY_URL).port}/${DB}`
let repo: string

// q1 starts on line 3 (served by the primary key), q2 on line 6: the planted missing index on customer_id.
const WORKLOAD = `-- the orders service's statements
-- weight: 20
SELECT * FROM orders WHERE id = $1;

-- weight: 5
SELECT note FROM orders
  WHERE customer_id = $1;
`

const audit = (extra: string[], cwd = repo) =>
  runCli(['audit', '--pg', url, '--window', '0', '--queries', 'db/workload.sql', ...extra], {cwd})

const loc = (r: any) => [r.locations[0].physicalLocation.artifactLocation.uri, r.locations[0].physicalLocation.region.startLine]

describe('several outputs from one audit (built CLI)', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `CREATE EXTENSION IF NOT EXISTS hypopg;
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, note text);
      INSERT INTO orders SELECT g, g % 5000, 'n' || g FROM generate_series(1, 100000) g;
      ANALYZE orders;`)
    await forgetLoadWrites(url)
    // A repository of its own: locations are relative to the directory with the .git.
    repo = mkdtempSync(join(tmpdir(), 'cp-formats-'))
    mkdirSync(join(repo, '.git'))
    mkdirSync(join(repo, 'db'))
    mkdirSync(join(repo, 'out'))
    writeFileSync(join(repo, 'db', 'workload.sql'), WORKLOAD)
    writeFileSync(join(repo, 'README.md'), '# service\n')
  }, 120_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    if (repo) rmSync(repo, {recursive: true, force: true})
  })

  let firstFingerprints: Map<string, string>

  it('audit: table on stdout, SARIF, JUnit and JSON in files, from one audit; SARIF points the statement findings at their lines', () => {
    const r = audit(['--fail-on', 'warning', '--format', 'table', '--format', 'sarif=out/cp.sarif', '--format', 'junit=out/cp.xml', '--format', 'json=out/report.json'])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(1) // the missing index is a warning
    expect(r.stdout).toMatch(/^chokepoint .*live audit/)
    expect(r.stdout).toContain('database/missing-index')
    const report = JSON.parse(readFileSync(join(repo, 'out', 'report.json'), 'utf8'))
    const sarifText = readFileSync(join(repo, 'out', 'cp.sarif'), 'utf8')
    const sarif = JSON.parse(sarifText)
    const junit = readFileSync(join(repo, 'out', 'cp.xml'), 'utf8')
    // One audit: every output carries the same report's time.
    expect(sarif.runs[0].invocations[0].endTimeUtc).toBe(report.generatedAt)
    expect(junit).toContain(`timestamp="${report.generatedAt}"`)

    const missing = report.findings.find((f: any) => f.rule === 'database/missing-index')
    expect(missing.evidence.origin).toEqual({file: 'db/workload.sql', line: 6})
    const run = sarif.runs[0]
    expect(run.results).toHaveLength(report.findings.length)
    const byId = new Map<string, any>(run.results.map((x: any) => [x.partialFingerprints['chokepointFindingId/v1'], x]))
    expect([...byId.keys()].sort()).toEqual(report.findings.map((f: any) => f.id).sort())
    expect(loc(byId.get(missing.id))).toEqual(['db/workload.sql', 6])
    expect(byId.get(missing.id)).toMatchObject({ruleId: 'database/missing-index', level: 'warning',
      properties: {remedies: [{kind: 'index', sql: expect.stringMatching(/^CREATE INDEX CONCURRENTLY "[^"]+" ON "public"."orders" USING btree \("customer_id"\)/)}]}})
    const statement = (q: string) => report.findings.find((f: any) => f.rule === 'database/costly-statement' && f.subject === `statement ${q}`)
    expect(loc(byId.get(statement('q1').id))).toEqual(['db/workload.sql', 3])
    expect(loc(byId.get(statement('q2').id))).toEqual(['db/workload.sql', 6])
    // A finding about no statement: no config file here, so the README.
    const workload = report.findings.find((f: any) => f.rule === 'database/index-workload')
    expect(loc(byId.get(workload.id))).toEqual(['README.md', 1])
    expect(run.tool.driver.rules.length).toBe(report.rules.length)
    expect(validateSarif(sarifText).filter((p) => p.level === 'error')).toEqual([])
    firstFingerprints = new Map(run.results.map((x: any) => [x.partialFingerprints['chokepointFindingId/v1'], x.ruleId]))

    expect(validateXml(junit, JUNIT_XSD)).toBeNull()
    const mine = report.checks.filter((c: any) => c.target === TARGET)
    const failing = mine.filter((c: any) => c.status === 'warning' || c.status === 'critical').length
    expect(failing).toBeGreaterThanOrEqual(1)
    expect(junit).toContain(`<testsuite name="${TARGET}" tests="${mine.length}" failures="${failing}" errors="0" skipped="${mine.filter((c: any) => c.status === 'not-evaluated').length}"`)
    expect(junit).toMatch(/<testcase classname="chokepoint.database" name="database\/missing-index public.orders customer_id" time="0">\s*<failure type="warning"/)
  }, 120_000)

  it('a second run gives the same fingerprints; with a config file, findings about no statement point at it', () => {
    writeFileSync(join(repo, 'chokepoint.config.yaml'), 'failOn: never\n')
    try {
      const r = audit(['--format', 'sarif'])
      expect(r.stderr).toBe('')
      expect(r.status).toBe(0)
      const run = JSON.parse(r.stdout).runs[0]
      expect(new Map(run.results.map((x: any) => [x.partialFingerprints['chokepointFindingId/v1'], x.ruleId]))).toEqual(firstFingerprints)
      const workload = run.results.find((x: any) => x.ruleId === 'database/index-workload')
      expect(loc(workload)).toEqual(['chokepoint.config.yaml', 1])
      expect(loc(run.results.find((x: any) => x.ruleId === 'database/missing-index'))).toEqual(['db/workload.sql', 6])
    } finally {
      rmSync(join(repo, 'chokepoint.config.yaml'))
    }
  }, 120_000)

  it('check: terse lines on stdout and JUnit in a file', () => {
    const r = runCli(['check', '--pg', url, '--window', '0', '--queries', 'db/workload.sql', '--fail-on', 'warning', '--format', 'junit=out/check.xml'], {cwd: repo})
    expect(r.status).toBe(1)
    // terse, check's default, stays on stdout when every format asked for goes to a file
    expect(r.stdout).toMatch(/^WARNING database\/missing-index /m)
    expect(r.stdout).toMatch(/^gate failed \(--fail-on warning\)/m)
    expect(validateXml(readFileSync(join(repo, 'out', 'check.xml'), 'utf8'), JUNIT_XSD)).toBeNull()
  }, 120_000)

  it('junit of a stack: one testsuite per target, each with a testcase per check of that target, valid against the schema', () => {
    const r = runCli(['check', '--pg', url, '--pgbouncer', PGBOUNCER_STATS_URL, '--window', '0', '--fail-on', 'warning',
      '--format', 'junit=out/stack.xml', '--format', 'json=out/stack.json'], {cwd: repo})
    expect([0, 1]).toContain(r.status)
    const report = JSON.parse(readFileSync(join(repo, 'out', 'stack.json'), 'utf8'))
    const junit = readFileSync(join(repo, 'out', 'stack.xml'), 'utf8')
    expect(validateXml(junit, JUNIT_XSD)).toBeNull()
    const suites = [...junit.matchAll(/<testsuite name="([^"]*)" tests="(\d+)"/g)].map((m) => [m[1].replace(/&amp;/g, '&'), Number(m[2])])
    expect(report.targets.map((t: {name: string}) => t.name)).toHaveLength(2)
    for (const t of report.targets) {
      const checks = report.checks.filter((c: {target: string}) => c.target === t.name).length
      expect(checks, t.name).toBeGreaterThan(0)
      expect(suites.find(([name]) => name === t.name), t.name).toEqual([t.name, expect.any(Number)])
      expect((suites.find(([name]) => name === t.name)![1] as number)).toBeGreaterThanOrEqual(checks)
    }
  }, 120_000)

  it('report: a saved JSON report rendered as SARIF, anchored to --sarif-anchor, and Markdown, in one call', () => {
    mkdirSync(join(repo, 'docs'), {recursive: true})
    writeFileSync(join(repo, 'docs', 'ops.md'), '# on call\n')
    const r = runCli(['report', 'out/report.json', '--sarif-anchor', 'docs/ops.md', '--format', 'sarif=out/again.sarif', '--format', 'markdown'], {cwd: repo})
    expect(r.stderr).toBe('')
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/^#/)
    const run = JSON.parse(readFileSync(join(repo, 'out', 'again.sarif'), 'utf8')).runs[0]
    expect(new Map(run.results.map((x: any) => [x.partialFingerprints['chokepointFindingId/v1'], x.ruleId]))).toEqual(firstFingerprints)
    expect(loc(run.results.find((x: any) => x.ruleId === 'database/index-workload'))).toEqual(['docs/ops.md', 1])
    expect(loc(run.results.find((x: any) => x.ruleId === 'database/missing-index'))).toEqual(['db/workload.sql', 6])
  })

  it('SARIF past GitHub\'s 25,000 results: the real report\'s findings copied past the limit, the least severe cut, said in the run and on stderr', () => {
    const report = JSON.parse(readFileSync(join(repo, 'out', 'report.json'), 'utf8'))
    const critical = {...report.findings[0], severity: 'critical', id: 'critical-copy', subject: 'the one critical'}
    const info = report.findings.find((f: {severity: string}) => f.severity !== 'critical') ?? report.findings[0]
    const copies = Array.from({length: 25_001}, (_, i) => ({...info, severity: 'info', id: `copy-${i}`, subject: `${info.subject} #${i}`}))
    report.findings = [...copies, critical]
    writeFileSync(join(repo, 'out', 'big.json'), JSON.stringify(report))
    const r = runCli(['report', 'out/big.json', '--format', 'sarif=out/big.sarif'], {cwd: repo})
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toEqual(['sarif: 2 of 25002 findings left out of the SARIF (0 critical, 0 warning, 2 info): GitHub accepts at most 25000 results per run; the least severe were cut, the JSON report has them all.'])
    const run = JSON.parse(readFileSync(join(repo, 'out', 'big.sarif'), 'utf8')).runs[0]
    expect(run.results).toHaveLength(25_000)
    expect(run.results[0]).toMatchObject({level: 'error', partialFingerprints: {'chokepointFindingId/v1': 'critical-copy'}})
    expect(run.properties.resultsOmitted).toEqual({count: 2, of: 25_002, critical: 0, warning: 0, info: 2, limit: 25_000})
    expect(run.invocations[0].toolExecutionNotifications[0]).toMatchObject({level: 'warning', descriptor: {id: 'results-omitted'}})
  }, 120_000)

  it('bad combinations exit 2 with one line, before anything is audited', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--format', 'table', '--format', 'json'], /^error: --format: table and json would both go to stdout; give all but one a file as --format FORMAT=FILE$/],
      [['--format', 'json', '--json'], /would both go to stdout/],
      [['--format', 'table', '--format', 'json=out/x.json', '-o', 'out/y.txt'], /^error: --output names the file of a single format/],
      [['--format', 'sarif=out/x.sarif', '--output', 'out/y.sarif'], /name the file once/],
      [['--format', 'sarif=out/same', '--format', 'junit=out/same'], /both write out\/same/],
      [['--format', 'sarif='], /name the file after "="/],
      [['--format', 'yaml=out/x'], /unknown report format "yaml": use one of table, json, markdown, .*sarif, junit/],
      [['--format', 'sarif=no/such/dir/x.sarif'], /^error: --format sarif no\/such\/dir\/x.sarif: the directory .* does not exist/],
    ]
    for (const [args, expected] of cases) {
      // An unreachable target: a run that got past the check would exit 3, not 2.
      const r = runCli(['audit', '--pg', 'postgres://nobody@127.0.0.1:1/none', '--window', '0', ...args], {cwd: repo})
      expect({args, status: r.status}).toEqual({args, status: 2})
      expect(r.stderr.trim().split('\n')).toHaveLength(1)
      expect(r.stderr.trim()).toMatch(expected)
      expect(r.stdout).toBe('')
    }
  }, 120_000)
})
