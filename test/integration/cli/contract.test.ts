import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import Ajv from 'ajv'
import {beforeAll, describe, expect, it} from 'vitest'
import {runCli, REPO_ROOT} from '../../helpers/cli.js'
import {PRIMARY_URL} from '../../helpers/pg.js'

const SECRET = 'Sup3r-Secret-pw'
// Trust auth on the test primary accepts any password, so the secret really travels in a working URL.
const URL_WITH_SECRET = PRIMARY_URL.replace('postgres@', `postgres:${SECRET}@`)
const UNREACHABLE = `postgres://app:${SECRET}@127.0.0.1:1/nowhere`
const tmp = mkdtempSync(join(tmpdir(), 'chokepoint-cli-'))

function writeConfig(name: string, text: string): string {
  const file = join(tmp, name)
  writeFileSync(file, text)
  return file
}

function schemaValidator(name: string) {
  const ajv = new Ajv.default({allErrors: true, strict: false})
  ajv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)))
  ajv.addSchema(JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'report.schema.json'), 'utf8')))
  ajv.addSchema(JSON.parse(readFileSync(join(REPO_ROOT, 'schemas', 'snapshot.schema.json'), 'utf8')))
  return ajv.getSchema(`https://chokepoint.dev/schemas/${name}.schema.json`)!
}

describe('exit codes and one-line errors', () => {
  it('an unreachable target degrades to a one-line "skipped: why" and exit 3', () => {
    const r = runCli(['check', '--pg', UNREACHABLE, '--window', '0'])
    expect(r.status).toBe(3)
    const skipped = r.stdout.split('\n').filter((l) => l.startsWith('SKIPPED'))
    expect(skipped).toHaveLength(1)
    expect(skipped[0]).toMatch(/could not connect: connection refused .*is the server running/)
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /) // no stack trace
  })

  it('a reachable target next to an unreachable one is still audited', () => {
    // The shared test primary carries other suites' slow statements: --fail-on never isolates "incomplete" (3),
    // which a failed gate (1) would outrank.
    const r = runCli(['audit', '--pg', PRIMARY_URL, '--pg', UNREACHABLE, '--window', '0', '--json', '--fail-on', 'never'])
    expect(r.status).toBe(3)
    const report = JSON.parse(r.stdout)
    expect(report.targets.map((t: {status: string}) => t.status).sort()).toEqual(['error', 'ok'])
    expect(report.gate.incomplete).toBe(true)
  })

  it('a malformed config exits 2 naming the bad key', () => {
    const typo = writeConfig('typo.yaml', 'rulez:\n  latency/p95: off\n')
    let r = runCli(['check', '--config', typo, '--pg', PRIMARY_URL])
    expect(r.status).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/unknown key "rulez" \(did you mean "rules"\?\)/)

    const badThreshold = writeConfig('bad-threshold.yaml', 'rules:\n  latency/p95:\n    target: fast\n')
    r = runCli(['check', '--config', badThreshold, '--pg', PRIMARY_URL])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/rules\.latency\/p95\.target: expected a comparison like "> 500ms"/)

    const unknownRule = writeConfig('unknown-rule.yaml', 'rules:\n  replication/lagg: off\n')
    r = runCli(['check', '--config', unknownRule, '--pg', PRIMARY_URL])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/replication\/lagg: no such rule \(did you mean "replication\/lag"\?\)/)

    const notYaml = writeConfig('broken.yaml', 'rules: [unclosed\n')
    r = runCli(['check', '--config', notYaml, '--pg', PRIMARY_URL])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/not valid YAML/)
  })

  it('usage errors exit 2 with the fix', () => {
    let r = runCli(['check'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/no targets: pass --pg URL/)
    r = runCli(['check', '--pg', PRIMARY_URL, '--window', 'soon'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/--window: expected a duration/)
    r = runCli(['check', '--pg', 'mysql://x@y/z'])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/must start with postgres:\/\//)
    r = runCli(['rules', 'show', 'no/such-rule'])
    expect(r.status).toBe(2)
  })

  it('rules list fits the terminal\'s width', () => {
    for (const columns of [100, 160]) {
      const r = runCli(['rules', 'list'], {env: {COLUMNS: String(columns)}})
      expect(r.status).toBe(0)
      expect(Math.max(...r.stdout.split('\n').map((l) => l.length))).toBeLessThanOrEqual(columns)
    }
  })

  it('rules show lists an advisor rule\'s heuristic with the config override, as the config has it', () => {
    let r = runCli(['rules', 'show', 'database/cache-aside-candidate'])
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/^heuristic: minShare 0\.05, .*stalenessBudget 0\.01.*\(override: rules: \{database\/cache-aside-candidate: \{heuristic: \{name: value\}\}\}\)$/m)
    const loose = writeConfig('loose.yaml', 'rules:\n  database/cache-aside-candidate: {heuristic: {stalenessBudget: 0.05}}\n')
    r = runCli(['rules', 'show', 'database/cache-aside-candidate', '--config', loose, '--json'])
    expect(JSON.parse(r.stdout).heuristic).toMatchObject({stalenessBudget: 0.05, minShare: 0.05})
  })

  it('a finding at or above --fail-on exits 1; below it, 0', () => {
    const strict = writeConfig('strict.yaml', 'rules:\n  database/xid-wraparound: {target: "< 0%", action: ">= 0%"}\n')
    let r = runCli(['check', '--config', strict, '--pg', PRIMARY_URL, '--window', '0'])
    expect(r.status).toBe(1)
    expect(r.stdout).toMatch(/^CRITICAL database\/xid-wraparound/m)
    r = runCli(['check', '--config', strict, '--pg', PRIMARY_URL, '--window', '0', '--fail-on', 'never'])
    expect(r.status).toBe(0)
    const quiet = writeConfig('quiet.yaml', 'rules:\n  database/xid-wraparound: {target: "< 100%", action: ">= 100%"}\n')
    r = runCli(['check', '--config', quiet, '--pg', PRIMARY_URL, '--window', '0', '--fail-on', 'critical'])
    expect(r.stdout).not.toMatch(/xid-wraparound/)
  })
})

describe('secrets', () => {
  it('a password in a URL never appears in any output format', () => {
    const outputs: string[] = []
    for (const format of ['table', 'json', 'markdown']) {
      const r = runCli(['audit', '--pg', URL_WITH_SECRET, '--pg', UNREACHABLE, '--window', '0', '--format', format, '--verbose', '--color', '--fail-on', 'never'])
      expect(r.status, r.stderr).toBe(3)
      outputs.push(r.stdout, r.stderr)
    }
    const check = runCli(['check', '--pg', URL_WITH_SECRET, '--pg', UNREACHABLE, '--window', '0', '--verbose'])
    outputs.push(check.stdout, check.stderr)
    const snap = join(tmp, 'secret-snap.json')
    const capture = runCli(['capture', '--pg', URL_WITH_SECRET, '--window', '0', '-o', snap, '--verbose'])
    outputs.push(capture.stdout, capture.stderr, readFileSync(snap, 'utf8'))
    const rendered = runCli(['report', snap, '--format', 'markdown'])
    outputs.push(rendered.stdout, rendered.stderr)
    const env = runCli(['check', '--window', '0'], {env: {DATABASE_URL: UNREACHABLE}})
    outputs.push(env.stdout, env.stderr)
    const badConfig = writeConfig('secret-config.yaml', `targets:\n  - kind: redis\n    url: ${URL_WITH_SECRET}\n`)
    const cfg = runCli(['check', '--config', badConfig])
    expect(cfg.status).toBe(2)
    outputs.push(cfg.stdout, cfg.stderr)

    const all = outputs.join('\n')
    expect(all).toContain('<password removed>') // the URLs are shown, without the password
    expect(all).not.toContain(SECRET)
    expect(all).not.toContain(encodeURIComponent(SECRET))
  })
})

describe('snapshots and schemas', () => {
  it('audit --from-snapshot gives the same findings as the live audit that captured it', async () => {
    const {runAudit, analyseSnapshot} = await import('../../../src/index.js')
    const strict = {rules: {'database/xid-wraparound': {target: '< 0%', action: '>= 0%'}}} as const
    const {report: live, snapshot} = await runAudit({targets: [{name: 'primary', kind: 'postgres', url: PRIMARY_URL}], windowSeconds: 0, failOn: 'critical', config: strict})
    const offline = await analyseSnapshot(JSON.parse(JSON.stringify(snapshot)), {failOn: 'critical', source: 'snapshot', config: strict})
    // Threshold findings must match exactly. Advisors may say less offline (the index advisor cannot run what-if
    // plans from a file and says "not verified"), but they raise the same findings on the same subjects.
    const {loadRules} = await import('../../../src/core/rules.js')
    const thresholdRules = new Set(loadRules().filter((r) => r.evaluator === 'metric').map((r) => r.id))
    const exact = (r: typeof live) => r.findings.filter((f) => thresholdRules.has(f.rule)).map(({id, rule, severity, subject, value, message, remedies}) => ({id, rule, severity, subject, value, message, remedies}))
    const identities = (r: typeof live) => r.findings.map(({id, rule, subject}) => ({id, rule, subject}))
    expect(exact(live).length).toBeGreaterThan(0)
    expect(exact(offline)).toEqual(exact(live))
    expect(identities(offline)).toEqual(identities(live))
    expect(offline.gate).toEqual(live.gate)

    // The same through the CLI: capture, then audit the file and render it, with identical findings.
    const snap = join(tmp, 'snap.json')
    const config = writeConfig('strict-snap.yaml', 'rules:\n  database/xid-wraparound: {target: "< 0%", action: ">= 0%"}\n')
    expect(runCli(['capture', '--pg', PRIMARY_URL, '--window', '0', '-o', snap]).status).toBe(0)
    const fromSnapshot = runCli(['audit', '--from-snapshot', snap, '--config', config, '--json'])
    const viaReport = runCli(['report', snap, '--config', config, '--json'])
    expect(fromSnapshot.status).toBe(1)
    const a = JSON.parse(fromSnapshot.stdout)
    const b = JSON.parse(viaReport.stdout)
    expect(a.source).toBe('snapshot')
    expect(a.findings.map((f: {id: string}) => f.id)).toEqual(b.findings.map((f: {id: string}) => f.id))
    expect(a.findings.some((f: {rule: string}) => f.rule === 'database/xid-wraparound')).toBe(true)
  })

  it('real JSON output and snapshots validate against the committed schemas', () => {
    const validateReport = schemaValidator('report')
    const validateSnapshot = schemaValidator('snapshot')
    const strict = writeConfig('schema.yaml', 'rules:\n  database/xid-wraparound: {target: "< 0%", action: ">= 0%"}\n  database/buffer-cache-hit-rate: {target: ">= 100%", action: "< 0%"}\n')
    const r = runCli(['audit', '--config', strict, '--pg', PRIMARY_URL, '--pg', UNREACHABLE, '--window', '1', '--json', '--verbose'])
    const report = JSON.parse(r.stdout)
    expect(report.findings.length).toBeGreaterThan(0)
    expect(validateReport(report), JSON.stringify(validateReport.errors)).toBe(true)
    const snap = join(tmp, 'schema-snap.json')
    runCli(['capture', '--pg', PRIMARY_URL, '--window', '0', '-o', snap])
    const snapshot = JSON.parse(readFileSync(snap, 'utf8'))
    expect(snapshot.readings.length).toBeGreaterThan(3)
    expect(validateSnapshot(snapshot), JSON.stringify(validateSnapshot.errors)).toBe(true)
    // A report that breaks the contract is rejected: the schema can fail.
    expect(validateReport({...report, gate: {...report.gate, exitCode: 7}})).toBe(false)
    expect(validateReport({...report, findings: [{...report.findings[0], severity: 'fatal'}]})).toBe(false)
  })
})

describe('colour', () => {
  const ANSI = /\u001b\[[0-9;]*m/
  it('is off for a pipe, with NO_COLOR and with --no-color; on with --color', () => {
    const args = ['audit', '--pg', PRIMARY_URL, '--window', '0']
    expect(runCli(args).stdout).not.toMatch(ANSI)
    expect(runCli([...args, '--color']).stdout).toMatch(ANSI)
    expect(runCli([...args, '--no-color']).stdout).not.toMatch(ANSI)
    expect(runCli(args, {env: {NO_COLOR: '1', FORCE_COLOR: '1'}}).stdout).not.toMatch(ANSI)
  })
})
