/**
 * Fleets through the CLI: a config file whose targets are in groups, `--target` picking some of them for audit,
 * check, capture and watch, `--concurrency`, and the one-line errors (exit 2) of a selector that picks nothing and
 * of a concurrency out of range.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli} from '../../helpers/cli.js'
import {PRIMARY_URL} from '../../helpers/pg.js'
import {scrapeUntil, startWatch} from '../../helpers/watch.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chokepoint-fleet-'))
  writeFileSync(join(dir, 'chokepoint.config.yaml'), [
    'concurrency: 2',
    'targets:',
    `  - {name: eu-pg-1, kind: postgres, url: "${PRIMARY_URL}", group: eu}`,
    `  - {name: eu-pg-2, kind: postgres, url: "${PRIMARY_URL}", group: eu}`,
    `  - {name: us-pg-1, kind: postgres, url: "${PRIMARY_URL}", group: us}`,
    '',
  ].join('\n'))
})
afterAll(() => rmSync(dir, {recursive: true, force: true}))

const cli = (args: string[]) => runCli(args, {cwd: dir})

describe('--target', () => {
  it('audits the group picked, with the fleet summary in the JSON report', () => {
    const result = cli(['audit', '--window', '0', '--target', 'group:eu', '--format', 'json', '--fail-on', 'never'])
    expect(result.status, result.stderr).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report.targets.map((t: {name: string; group: string}) => `${t.name}@${t.group}`)).toEqual(['eu-pg-1@eu', 'eu-pg-2@eu'])
    expect(report.fleet).toMatchObject({targets: 2, ok: 2, skipped: 0, groups: [{group: 'eu', targets: 2}]})
  }, 120_000)

  it('picks by glob for capture, and one target gives a report without a fleet summary', () => {
    const captured = cli(['capture', '--window', '0', '--target', 'us-*', '-q'])
    expect(captured.status, captured.stderr).toBe(0)
    expect(JSON.parse(captured.stdout).targets.map((t: {name: string}) => t.name)).toEqual(['us-pg-1'])
    const checked = cli(['check', '--window', '0', '--target', 'eu-pg-2', '--format', 'json', '--fail-on', 'never'])
    expect(checked.status, checked.stderr).toBe(0)
    const report = JSON.parse(checked.stdout)
    expect(report.targets.map((t: {name: string}) => t.name)).toEqual(['eu-pg-2'])
    expect(report.fleet).toBeUndefined()
  }, 120_000)

  it('refuses a selector that picks nothing: one line, exit 2, naming the targets and groups there are', () => {
    for (const command of ['audit', 'check', 'capture', 'watch']) {
      const result = cli([command, '--target', 'group:asia'])
      expect(result.status, command).toBe(2)
      expect(result.stderr).toBe('error: --target group:asia: matches no group; targets: eu-pg-1, eu-pg-2, us-pg-1; groups: group:eu, group:us\n')
    }
  }, 120_000)
})

describe('--concurrency', () => {
  it('below the fleet\'s size closes each connection after its sample, and the index advisor says why it did not verify', () => {
    const result = cli(['audit', '--window', '0', '--target', 'group:eu', '--concurrency', '1', '--format', 'json', '--fail-on', 'never'])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stdout).toContain('not verified: the fleet\'s 2 targets are more than --concurrency 1, so each connection closed after its sample (raise --concurrency to 2 to keep them for the advisors)')
  }, 120_000)

  it('refuses a value out of range in one line, exit 2', () => {
    const result = cli(['audit', '--concurrency', '0'])
    expect(result.status).toBe(2)
    expect(result.stderr).toBe('error: --concurrency: expected a whole number of targets from 1 to 256, got "0"\n')
  })
})

describe('watch over a fleet', () => {
  it('watches the targets picked, their series labelled with their group', async () => {
    const watcher = await startWatch(['-c', join(dir, 'chokepoint.config.yaml'), '--target', 'group:us', '--target', 'eu-pg-1'])
    try {
      const metrics = await scrapeUntil(watcher.url, (text) => text.includes('chokepoint_up{target="us-pg-1",group="us"} 1') && text.includes('chokepoint_probe_duration_seconds_count'))
      expect(metrics).toContain('chokepoint_up{target="us-pg-1",group="us"} 1')
      expect(metrics).toContain('chokepoint_up{target="eu-pg-1",group="eu"} 1')
      expect(metrics).not.toContain('eu-pg-2')
      expect(metrics).toMatch(/chokepoint_probe_duration_seconds_count\{target="us-pg-1",group="us",probe="postgres\.[a-z_.-]+"\} \d/)
    } finally {
      await watcher.stop()
    }
  }, 60_000)
})
