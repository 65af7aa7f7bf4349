/**
 * An external plugin package (examples/chokepoint-plugin-example) joins through oclif's plugin mechanism, linked the
 * way a user links one, into a data directory of this test's own: its rule appears in `rules list`, its probe runs
 * in a live audit of a real database, and its report format renders.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Report} from '../../../src/core/types.js'
import {REPO_ROOT, runCli} from '../../helpers/cli.js'
import {adminQuery, PRIMARY_URL, withDatabase} from '../../helpers/pg.js'

const PLUGIN_DIR = join(REPO_ROOT, 'examples', 'chokepoint-plugin-example')
const DB = 'cp_example_plugin'
const RULE = 'database/example-unlogged-table'

describe('an external plugin linked with `chokepoint plugins link`', () => {
  const dataHome = mkdtempSync(join(tmpdir(), 'cp-plugin-data-'))
  const env = {XDG_DATA_HOME: dataHome, XDG_CONFIG_HOME: dataHome, XDG_CACHE_HOME: dataHome}
  const cli = (args: string[]) => runCli(args, {env})
  const url = withDatabase(PRIMARY_URL, DB)

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, 'CREATE UNLOGGED TABLE "Scratch Data" (id int); CREATE TABLE kept (id int)')
  })

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    rmSync(dataHome, {recursive: true, force: true})
  })

  it('is absent until linked', () => {
    const rules = cli(['rules', 'list', '--json'])
    expect(rules.status).toBe(0)
    expect(JSON.parse(rules.stdout).map((r: {id: string}) => r.id)).not.toContain(RULE)
    expect(cli(['audit', '--pg', url, '--window', '0', '--format', 'oneline']).stderr).toMatch(/unknown report format "oneline": use one of table, json, markdown/)
  })

  it('adds its rule, its probe and its report format once linked', () => {
    const link = cli(['plugins', 'link', PLUGIN_DIR, '--no-install'])
    expect(link.stderr).not.toMatch(/error/i)
    expect(link.status).toBe(0)

    const rules = cli(['rules', 'list', '--json'])
    expect(rules.stderr).toBe('')
    expect(JSON.parse(rules.stdout).find((r: {id: string}) => r.id === RULE)).toMatchObject({metric: 'example.table.unlogged', severity: 'warning'})

    const audit = cli(['audit', '--pg', url, '--window', '0', '--json', '--fail-on', 'warning'])
    expect(audit.status).toBe(1)
    const report = JSON.parse(audit.stdout) as Report
    const finding = report.findings.find((f) => f.rule === RULE)!
    expect(finding).toMatchObject({severity: 'warning', subject: 'public."Scratch Data"'})
    expect(finding.remedies[0]).toMatchObject({kind: 'config', sql: 'ALTER TABLE "public"."Scratch Data" SET LOGGED', applier: 'example-set-logged'})
    // Its applier serves its own rule only: no other config remedy names it.
    for (const r of report.findings.filter((f) => f.rule !== RULE).flatMap((f) => f.remedies)) expect(r.applier).not.toBe('example-set-logged')
    expect(report.checks.filter((c) => c.rule === RULE).map((c) => c.status)).toEqual(['warning'])
    expect(report.rules.map((r) => r.id)).toContain(RULE)

    const oneline = cli(['audit', '--pg', url, '--window', '0', '--format', 'oneline'])
    expect(oneline.stdout).toMatch(/^chokepoint passed: 0 critical, [1-9]\d* warning, \d+ info; \d+ checks\n$/)
  })

  it('applies its remedy through its applier: dry run, --confirm, --rollback', async () => {
    const persistence = async () => (await adminQuery(url, `SELECT relpersistence FROM pg_class WHERE oid = '"Scratch Data"'::regclass`))[0].relpersistence
    const report = JSON.parse(cli(['audit', '--pg', url, '--window', '0', '--json', '--fail-on', 'never']).stdout) as Report
    const id = report.findings.find((f) => f.rule === RULE)!.remedies[0].id
    const dry = cli(['apply', '--pg', url, '--window', '0', '--only', id])
    expect(dry.status).toBe(0)
    expect(dry.stdout).toContain('run:  ALTER TABLE public."Scratch Data" SET LOGGED')
    expect(dry.stdout).toContain('undo: ALTER TABLE public."Scratch Data" SET UNLOGGED')
    expect(await persistence()).toBe('u')

    const journal = join(dataHome, 'journal.json')
    const applied = cli(['apply', '--pg', url, '--window', '0', '--only', id, '--confirm', '--journal', journal])
    expect(applied.stderr).not.toMatch(/error/)
    expect(applied.status).toBe(0)
    expect(applied.stdout).toMatch(/status: verified\n {4}verify: ok: public."Scratch Data" is logged/)
    expect(await persistence()).toBe('p')

    const back = cli(['apply', '--rollback', journal, '--pg', url, '--confirm'])
    expect(back.status).toBe(0)
    expect(back.stdout).toMatch(/rollback: ok: public."Scratch Data" is unlogged again/)
    expect(await persistence()).toBe('u')
  })

  it('is gone again once unlinked', () => {
    expect(cli(['plugins', 'unlink', 'chokepoint-plugin-example']).status).toBe(0)
    expect(JSON.parse(cli(['rules', 'list', '--json']).stdout).map((r: {id: string}) => r.id)).not.toContain(RULE)
  })
})
