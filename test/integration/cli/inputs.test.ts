/**
 * Inputs that used to be accepted, or failed late or on several lines (issue 8): each must end in exit 2 with one
 * line on stderr naming the problem, before anything is probed.
 */
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {runCli, type CliResult} from '../../helpers/cli.js'
import {PRIMARY_URL} from '../../helpers/pg.js'

const tmp = mkdtempSync(join(tmpdir(), 'chokepoint-inputs-'))

function config(name: string, text: string): string {
  const file = join(tmp, name)
  writeFileSync(file, text)
  return file
}

function expectOneLine(r: CliResult, message: RegExp): void {
  expect(r.status, r.stderr).toBe(2)
  const lines = r.stderr.split('\n').filter(Boolean)
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(message)
  expect(lines[0]).not.toMatch(/internal error/)
}

describe('output paths are checked before the audit runs', () => {
  const missing = join(tmp, 'no-such-dir', 'report.txt')

  it.each([
    ['audit', ['audit', '--pg', PRIMARY_URL]],
    ['check', ['check', '--pg', PRIMARY_URL]],
    ['capture', ['capture', '--pg', PRIMARY_URL]],
  ])('%s -o into a missing directory fails at once (it failed after the whole audit, as an internal error)', (_name, args) => {
    // A 30 s window: had the audit run first, the child would be killed at the 10 s timeout (status -1).
    const r = runCli([...args, '--window', '30s', '-o', missing], {timeoutMs: 10_000})
    expectOneLine(r, /^error: --output .*no-such-dir\/report\.txt: the directory .*no-such-dir does not exist: create it first$/)
  })

  it('report -o into a directory fails naming it', () => {
    const snapshot = join(import.meta.dirname, '..', '..', 'unit', 'core', 'fixtures', 'snapshot.v1.json')
    expectOneLine(runCli(['report', snapshot, '-o', tmp]), /--output .*: is a directory: name a file in it$/)
  })
})

describe('flags', () => {
  it.each([['-5MB'], ['0'], ['-1'], ['12parsecs'], ['']])('--index-budget %j is refused (-5MB was accepted)', (budget) => {
    expectOneLine(runCli(['check', '--pg', PRIMARY_URL, '--window', '0', '--index-budget', budget]), /--index-budget: expected a positive size like 500MB/)
  })

  it.each([['100000'], ['-1'], ['many'], ['2.5']])('--max-indexes %s: names the flag and the range it takes, not the parser\'s wording', (value) => {
    expectOneLine(runCli(['check', '--pg', PRIMARY_URL, '--window', '0', '--max-indexes', value]), new RegExp(`^error: --max-indexes: a whole number from 0 to 1000, not "${value.replace('.', '\\.')}" \\(see --help\\)$`))
  })
})

describe('config files', () => {
  it('a YAML warning is one line, not a multi-line Node warning', () => {
    const file = config('tag.yaml', 'failOn: !!foo critical\n')
    expectOneLine(runCli(['check', '--config', file, '--pg', PRIMARY_URL]), /not valid YAML at line 1, column 9: Unresolved tag/)
  })

  it('options that would disable a safety setting are refused naming the key and the range', () => {
    const file = config('timeout.yaml', `targets:\n  - kind: postgres\n    url: ${PRIMARY_URL}\n    options: {statementTimeoutMs: 0}\n`)
    expectOneLine(runCli(['check', '--config', file]), /targets\[0\]\.options\.statementTimeoutMs: expected a whole number from 100 to 600000 .* got 0$/)
    const scan = config('scan.yaml', 'options:\n  redis: {scanCount: -3}\n')
    expectOneLine(runCli(['check', '--config', scan, '--redis', 'redis://127.0.0.1:6379']), /options\.redis\.scanCount: expected a whole number from 10 to 100/)
  })

  it('a target name that is not a string is refused (it passed into the JSON report and crashed it)', () => {
    const file = config('name.yaml', `targets:\n  - name: 42\n    kind: postgres\n    url: ${PRIMARY_URL}\n`)
    expectOneLine(runCli(['audit', '--config', file, '--window', '0', '--json']), /targets\[0\]\.name: expected a name such as "primary", got 42$/)
  })
})
