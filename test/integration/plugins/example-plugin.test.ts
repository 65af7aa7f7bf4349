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
    expect(finding.remedies[0]).toMatchObject({kind: 'config', sql: 'ALTER TABLE "public"."Scratch Data" SET LOGGED', applier: null})
    expect(report.checks.filter((c) => c.rule === RULE).map((c) => c.status)).toEqual(['warning'])
    expect(report.rules.map((r) => r.id)).toContain(RULE)

    const oneline = cli(['audit', '--pg', url, '--window', '0', '--format', 'oneline'])
    expect(oneline.stdout).toMatch(/^chokepoint passed: 0 critical, [1-9]\d* warning, \d+ info; \d+ checks\n$/)
  })

  it('is gone again once unlinked', () => {
    expect(cli(['plugins', 'unlink', 'chokepoint-plugin-example']).status).toBe(0)
    expect(JSON.parse(cli(['rules', 'list', '--json']).stdout).map((r: {id: string}) => r.id)).not.toContain(RULE)
  })
})
