/** `chokepoint report` reads a report written by a version-1 chokepoint (before checks existed) as version 3. */
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import type {Report} from '../../../src/core/types.js'
import {REPO_ROOT, runCli} from '../../helpers/cli.js'

const V1 = join(REPO_ROOT, 'test', 'unit', 'core', 'fixtures', 'report.v1.json')

describe('chokepoint report on a version-1 report', () => {
  it('renders it as version 3 in JSON and keeps its verdict', () => {
    const run = runCli(['report', V1, '--format', 'json'])
    expect(run.stderr).toBe('')
    const report = JSON.parse(run.stdout) as Report
    expect(report).toMatchObject({schemaVersion: 3, diagnosis: [], checks: [], checksOmitted: [], rules: []})
    for (const remedy of report.findings.flatMap((f) => f.remedies)) expect(remedy.id).toMatch(/^[a-z-]+-[0-9a-f]{12}$/)
    expect(run.status).toBe(report.gate.exitCode)
  })

  it('renders it as a table and re-gates it at another level', () => {
    const table = runCli(['report', V1, '--no-color'])
    expect(table.stdout).toMatch(/gate (failed|passed)/)
    const never = runCli(['report', V1, '--fail-on', 'never', '--format', 'json'])
    expect(JSON.parse(never.stdout).gate).toMatchObject({failOn: 'never', passed: true})
  })
})
