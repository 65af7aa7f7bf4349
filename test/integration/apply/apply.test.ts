/**
 * `chokepoint apply` end to end on a real PostgreSQL, through the tests' own applier (test/helpers/apply-plugin,
 * linked with `chokepoint plugins link` into a data directory of this test's own): each row of apply_test_marker is
 * a finding whose remedy creates table public.applied_<name>. The orchestrator is what is under test: the dry run,
 * the journal before and after each step, verification and rollback, --rollback, a saved report's age and targets,
 * Ctrl-C and a killed run, two applies at once, and the exit codes.
 */
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'
import type {Journal} from '../../../src/core/applier.js'
import type {Report} from '../../../src/core/types.js'
import {REPO_ROOT, runCli, runCliAsync} from '../../helpers/cli.js'
import {adminQuery, PRIMARY_URL, withDatabase} from '../../helpers/pg.js'

const PLUGIN_DIR = join(REPO_ROOT, 'test', 'helpers', 'apply-plugin')
const DB = 'cp_apply_orchestrator'
const BIN = join(REPO_ROOT, 'bin', 'run.js')

describe('chokepoint apply', () => {
  const dataHome = mkdtempSync(join(tmpdir(), 'cp-apply-data-'))
  const lockDir = mkdtempSync(join(tmpdir(), 'cp-apply-locks-'))
  let work: string
  const env = () => ({XDG_DATA_HOME: dataHome, XDG_CONFIG_HOME: dataHome, XDG_CACHE_HOME: dataHome, CHOKEPOINT_LOCK_DIR: lockDir})
  const cli = (args: string[]) => runCli(args, {env: env(), cwd: work})
  const url = withDatabase(PRIMARY_URL, DB)
  const target = ['--pg', url, '--window', '0']
  const tables = async () => (await adminQuery(url, `SELECT relname FROM pg_class WHERE relname LIKE 'applied_%' ORDER BY 1`)).map((r) => r.relname as string)
  const mark = (rows: Array<[string, string]>) => adminQuery(url, `TRUNCATE apply_test_marker; ${rows.map(([n, m]) => `INSERT INTO apply_test_marker VALUES ('${n}', '${m}');`).join(' ')}`)
  const journals = () => readdirSync(work).filter((f) => f.startsWith('chokepoint-apply-')).map((f) => join(work, f))
  const readJson = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T
  /** The report's remedy id for a marker. */
  const remedyFor = (report: Report, name: string) => report.findings.find((f) => f.subject === `marker ${name}`)!.remedies[0].id
  const audit = (): Report => JSON.parse(cli(['audit', ...target, '--json', '--fail-on', 'never']).stdout)

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, 'CREATE TABLE apply_test_marker (name text PRIMARY KEY, mode text NOT NULL)')
    const link = runCli(['plugins', 'link', PLUGIN_DIR, '--no-install'], {env: env()})
    expect(link.status).toBe(0)
  })

  beforeEach(async () => {
    work = mkdtempSync(join(tmpdir(), 'cp-apply-work-'))
    for (const t of await tables()) await adminQuery(url, `DROP TABLE "${t}"`)
  })

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    rmSync(dataHome, {recursive: true, force: true})
    rmSync(lockDir, {recursive: true, force: true})
  })

  it('names the applier on the remedies it serves, and only those', () => {
    return mark([['a', 'ok']]).then(() => {
      const report = audit()
      const finding = report.findings.find((f) => f.rule === 'database/apply-test-marker')!
      expect(finding.remedies[0]).toMatchObject({kind: 'config', applier: 'apply-test'})
      // Other config remedies (built-in rules) are not this applier's: it serves its own rule only.
      const others = report.findings.filter((f) => f.rule !== 'database/apply-test-marker').flatMap((f) => f.remedies).filter((r) => r.kind === 'config')
      for (const r of others) expect(r.applier).toBeNull()
    })
  })

  it('a dry run prints the plan and changes nothing, writing no journal', async () => {
    await mark([['a', 'ok'], ['b', 'ok']])
    const catalog = async () => (await adminQuery(url, `SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1`)).map((r) => r.relname)
    const before = await catalog()
    const run = cli(['apply', ...target])
    expect(run.stderr).not.toMatch(/error/)
    expect(run.status).toBe(0)
    expect(run.stdout).toMatch(/^Plan \(dry run: nothing was changed/)
    expect(run.stdout).toContain('run:  CREATE TABLE public."applied_a" (id int)')
    expect(run.stdout).toContain('undo: DROP TABLE IF EXISTS public."applied_b"')
    expect(run.stdout).toMatch(/preflight: ok/)
    expect(await catalog()).toEqual(before)
    expect(journals()).toEqual([])
  })

  it('a remedy id not in the report is one line and exit 2; a failing preflight makes the dry run exit 1', async () => {
    await mark([['a', 'refuse']])
    const bad = cli(['apply', ...target, '--only', 'config-000000000000'])
    expect(bad.status).toBe(2)
    expect(bad.stderr.trim().split('\n').at(-1)).toMatch(/^error: remedy config-000000000000 is not in the report/)
    const refused = cli(['apply', ...target])
    expect(refused.status).toBe(1)
    expect(refused.stdout).toMatch(/preflight: refused: the test marker says refuse \(fix: UPDATE/)
  })

  it('--confirm applies, verifies and journals; --rollback is a dry run until confirmed', async () => {
    await mark([['a', 'ok']])
    const run = cli(['apply', ...target, '--confirm', '--format', 'json'])
    expect(run.status).toBe(0)
    const result = JSON.parse(run.stdout)
    expect(result).toMatchObject({mode: 'apply', exitCode: 0, changes: [{changeId: 'change-1', status: 'verified', applier: 'apply-test'}]})
    expect(await tables()).toEqual(['applied_a'])
    const [file] = journals()
    expect(result.journal).toBe(file)
    expect(run.stderr).toContain(`journal: ${file}`)
    const journal = readJson<Journal>(file)
    expect(journal.changes[0]).toMatchObject({status: 'verified', statements: ['CREATE TABLE public."applied_a" (id int)'], undo: {table: 'applied_a'},
      verification: {ok: true}, rollbackStatements: ['DROP TABLE IF EXISTS public."applied_a"']})
    expect(journal.report.targets[0].url).toBe(url)

    const dry = cli(['apply', '--rollback', file, ...target])
    expect(dry.status).toBe(0)
    expect(dry.stdout).toMatch(/^Rollback plan \(dry run/)
    expect(await tables()).toEqual(['applied_a'])
    const back = cli(['apply', '--rollback', file, ...target, '--confirm'])
    expect(back.status).toBe(0)
    expect(await tables()).toEqual([])
    expect(readJson<Journal>(file).changes[0]).toMatchObject({status: 'rolled-back', rollbackResult: {ok: true}})
    const again = cli(['apply', '--rollback', file, ...target, '--only', 'change-1', '--confirm'])
    expect(again.status).toBe(2)
    expect(again.stderr).toMatch(/change change-1 of .* is rolled-back: nothing to roll back/)
  })

  it('a failed verification is rolled back (exit 1), or kept with --keep-failed', async () => {
    await mark([['v', 'fail-verify']])
    const run = cli(['apply', ...target, '--confirm'])
    expect(run.status).toBe(1)
    expect(run.stdout).toMatch(/status: rolled-back: verification: the test marker says fail-verify/)
    expect(await tables()).toEqual([])
    expect(readJson<Journal>(journals()[0]).changes[0]).toMatchObject({status: 'rolled-back', verification: {ok: false}})

    const kept = cli(['apply', ...target, '--confirm', '--keep-failed', '--journal', join(work, 'kept.json')])
    expect(kept.status).toBe(1)
    expect(await tables()).toEqual(['applied_v'])
    expect(readJson<Journal>(join(work, 'kept.json')).changes[0]).toMatchObject({status: 'failed', error: expect.stringMatching(/--keep-failed/)})
    // A journal is never overwritten.
    const twice = cli(['apply', ...target, '--confirm', '--journal', join(work, 'kept.json')])
    expect(twice.status).toBe(2)
    expect(twice.stderr).toMatch(/the file exists/)
  })

  it('--from: a saved report is applied; one too old, or from another target, is refused', async () => {
    await mark([['f', 'ok']])
    const report = audit()
    const file = join(work, 'report.json')
    writeFileSync(file, JSON.stringify(report))
    const run = cli(['apply', '--from', file, '--pg', url, '--only', remedyFor(report, 'f'), '--confirm'])
    expect(run.status).toBe(0)
    expect(await tables()).toEqual(['applied_f'])

    const old = join(work, 'old.json')
    writeFileSync(old, JSON.stringify({...report, generatedAt: new Date(Date.now() - 2 * 86_400_000).toISOString()}))
    const tooOld = cli(['apply', '--from', old, '--pg', url])
    expect(tooOld.status).toBe(2)
    expect(tooOld.stderr).toMatch(/^error: the report is 2 d old .* older than --max-report-age 24 h/)
    const allowed = cli(['apply', '--from', old, '--pg', url, '--max-report-age', '3d'])
    expect(allowed.stderr).not.toMatch(/older than/)
    expect(allowed.stdout).toMatch(/preflight: refused: public.applied_f exists already/)

    // Same target name, another database: the report's remedies are not for it.
    const renamed = join(work, 'renamed.json')
    const other = withDatabase(PRIMARY_URL, 'postgres')
    writeFileSync(renamed, JSON.stringify({...report, targets: report.targets.map((t) => ({...t, url: other}))}))
    const elsewhere = cli(['apply', '--from', renamed, '--pg', url])
    expect(elsewhere.status).toBe(2)
    expect(elsewhere.stderr).toMatch(/but the report audited postgres .*\/postgres: refusing/)
    const missing = cli(['apply', '--from', file])
    expect(missing.status).toBe(2)
    expect(missing.stderr).toMatch(/is not configured now: pass --pg URL/)
  })

  /** Starts `apply --confirm` on a blocking marker and waits until its journal says "applying". */
  async function startBlocked() {
    await mark([['k', 'block']])
    const journal = join(work, 'blocked.json')
    const child = spawn(process.execPath, [BIN, 'apply', ...target, '--confirm', '--journal', journal], {cwd: work, env: {...process.env, ...env()}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => child.once('close', (code, signal) => resolve(code ?? (signal ? -1 : null))))
    for (let i = 0; i < 600 && !(existsSync(journal) && (await tables()).length > 0 && readJson<Journal>(journal).changes[0]?.status === 'applying'); i++) {
      await new Promise((r) => setTimeout(r, 100))
    }
    return {child, journal, exited, out: () => ({stdout, stderr})}
  }

  it('Ctrl-C mid-apply: the journal said "applying", the applier cleans up, the journal says "interrupted", exit 130; a second apply meanwhile refuses', async () => {
    const {child, journal, exited, out} = await startBlocked()
    expect(readJson<Journal>(journal).changes[0]).toMatchObject({status: 'applying', undo: {table: 'applied_k'}})
    expect(await tables()).toEqual(['applied_k'])

    const second = await runCliAsync(['apply', ...target, '--confirm', '--journal', join(work, 'second.json')], {env: env(), cwd: work})
    expect(second.status).toBe(2)
    expect(second.stderr).toMatch(/another chokepoint apply \(pid \d+, .*\) is working on target/)
    expect(existsSync(join(work, 'second.json'))).toBe(false)

    child.kill('SIGINT')
    expect(await exited).toBe(130)
    expect(out().stderr).toMatch(/SIGINT: stopping; waiting for the applier to clean up/)
    // Progress off a terminal: one line per phase.
    expect(out().stderr).toMatch(/^progress: blocking 1\/2 steps \(50%\)$/m)
    expect(out().stderr).toMatch(/interrupted: dropped public.applied_k again/)
    expect(readJson<Journal>(journal).changes[0]).toMatchObject({status: 'interrupted', error: expect.stringMatching(/interrupted/)})
    expect(await tables()).toEqual([])
  })

  it('a killed run leaves "applying" in its journal, and the next apply recovers it first', async () => {
    const {child, journal, exited} = await startBlocked()
    child.kill('SIGKILL')
    await exited
    expect(readJson<Journal>(journal).changes[0].status).toBe('applying')
    expect(await tables()).toEqual(['applied_k'])

    await mark([['n', 'ok']])
    const dry = cli(['apply', ...target])
    expect(dry.stdout).toMatch(/recover: change-1 of .*blocked\.json .* \(left applying; cleaned up first with --confirm\)/)
    const next = cli(['apply', ...target, '--confirm'])
    expect(next.status).toBe(0)
    expect(next.stdout).toMatch(/recover: change-1 of .*blocked\.json .*left applying: cleaned up: dropped public\.applied_k/)
    expect(readJson<Journal>(journal).changes[0]).toMatchObject({status: 'rolled-back', rollbackResult: {ok: true}})
    expect(await tables()).toEqual(['applied_n'])
  })

  it('keeps a password given in the URL out of the output and the journal', async () => {
    await mark([['p', 'ok']])
    const secret = 'Sup3r-secret-pw'
    const withPassword = url.replace('postgres@', `postgres:${secret}@`)
    const run = cli(['apply', '--pg', withPassword, '--window', '0', '--confirm', '--format', 'json'])
    expect(run.status).toBe(0)
    const journal = readFileSync(journals()[0], 'utf8')
    for (const text of [run.stdout, run.stderr, journal]) expect(text).not.toContain(secret)
    expect(JSON.parse(journal).report.targets[0].url).toContain('<password removed>')
    expect(await tables()).toEqual(['applied_p'])
  })

  it('a target that cannot be reached exits 3', async () => {
    await mark([['u', 'ok']])
    const report = audit()
    const file = join(work, 'report.json')
    // The report as if taken of a server on a port nothing listens on; configured the same way now.
    const down = 'postgres://postgres@127.0.0.1:1/cp_apply_orchestrator'
    writeFileSync(file, JSON.stringify({...report, targets: report.targets.map((t) => ({...t, name: 'postgres:127.0.0.1:1/cp_apply_orchestrator', url: down})),
      findings: report.findings.map((f) => ({...f, target: 'postgres:127.0.0.1:1/cp_apply_orchestrator'}))}))
    const run = cli(['apply', '--from', file, '--pg', down, '--confirm'])
    expect(run.stdout).toMatch(/unreachable: postgres:127.0.0.1:1\/cp_apply_orchestrator: cannot connect/)
    expect(run.status).toBe(3)
    expect(await tables()).toEqual([])
    // Audited live: the target that was not reached is what it says, not only "nothing to apply".
    const live = cli(['apply', '--pg', down, '--window', '0'])
    expect(live.status).toBe(3)
    expect(live.stderr).toMatch(/target postgres:127\.0\.0\.1:1\/cp_apply_orchestrator could not be audited: /)
    expect(live.stdout).toMatch(/unreachable: postgres:127\.0\.0\.1:1\/cp_apply_orchestrator: not audited: /)
  })
})
