/**
 * Progress where it is slow, from a real audit: the sampling window, the index advisor's what-if loop (a live audit
 * of a database with a missing index, hypopg installed) and the key sample of a Redis this test starts, each report
 * on stderr (stderr is a pipe here: plain lines, at the interval CHOKEPOINT_PROGRESS_INTERVAL_MS sets); nothing on
 * stderr with --quiet, and stdout, the report, the same either way.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {REPO_ROOT, runCli} from '../../helpers/cli.js'
import {adminQuery, connect, withDatabase, PRIMARY_URL} from '../../helpers/pg.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'
import {client} from '../redis/audit-helpers.js'

const DB = 'cp_diffui_progress'
const url = withDatabase(PRIMARY_URL, DB)
let redis: RedisServer

describe('progress on stderr', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `CREATE EXTENSION IF NOT EXISTS hypopg; CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      CREATE TABLE orders AS SELECT g AS id, g % 5000 AS customer_id, repeat('x', 200) AS pad FROM generate_series(1, 40000) g; ANALYZE orders`)
    const app = await connect(url, 'cp-diffui-app')
    try {
      for (let i = 0; i < 20; i++) await app.query('SELECT id, pad FROM orders WHERE customer_id = $1', [i])
    } finally {
      await app.end()
    }
    redis = await startRedis()
    const r = await client(redis.url)
    try {
      const pipe = r.pipeline()
      for (let i = 0; i < 600; i++) pipe.set(`session:${i}`, 'x')
      await pipe.exec()
    } finally {
      r.disconnect()
    }
  }, 120_000)

  afterAll(async () => {
    await redis?.stop()
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  const args = () => ['audit', '--pg', url, '--redis', redis.url, '--window', '2', '--format', 'json', '--fail-on', 'never']

  it('shows the window, the what-if plans and the key sample as plain lines when stderr is not a terminal', () => {
    const r = runCli(args(), {env: {CHOKEPOINT_PROGRESS_INTERVAL_MS: '1'}})
    expect(r.status, r.stderr).toBe(0)
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('progress: '))
    expect(lines.some((l) => /^progress: postgres:127\.0\.0\.1:\d+\/cp_diffui_progress: sampling window: \d\/2 s \(\d+%\)/.test(l)), r.stderr).toBe(true)
    expect(lines.some((l) => /: index advisor what-if plans: \d+ plans/.test(l)), r.stderr).toBe(true)
    expect(lines.some((l) => /^progress: redis:127\.0\.0\.1:\d+: key sample: \d+\/600 keys/.test(l)), r.stderr).toBe(true)
    expect(lines.some((l) => /key sample: 600\/600 keys \(100%\), done/.test(l)), r.stderr).toBe(true)
    // No terminal, no bar: nothing drawn in place.
    expect(r.stderr).not.toMatch(/\r|\u001b\[/)
    expect(JSON.parse(r.stdout).findings.some((f: {rule: string}) => f.rule === 'database/missing-index')).toBe(true)
  })

  it('is silent with --quiet', () => {
    const r = runCli([...args(), '--quiet'], {env: {CHOKEPOINT_PROGRESS_INTERVAL_MS: '1'}})
    expect(r.status).toBe(0)
    expect(r.stderr).toBe('')
    expect(JSON.parse(r.stdout).findings.length).toBeGreaterThan(0)
  })

  /**
   * The built CLI on a real terminal: a pty from util-linux's script(1), sized 100 columns (an unsized one says 0).
   * Stdout and stderr both reach the pty, so the report goes to a file.
   */
  function onTerminal(extra: string[]): {status: number | null; screen: string; report: {findings: unknown[]}} {
    const dir = mkdtempSync(join(tmpdir(), 'cp-progress-pty-'))
    try {
      const file = join(dir, 'report.json')
      const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`
      const command = [process.execPath, join(REPO_ROOT, 'bin', 'run.js'), ...args(), ...extra, '-o', file].map(quote).join(' ')
      const r = spawnSync('script', ['-qec', `stty cols 100 rows 40; ${command}`, '/dev/null'], {encoding: 'utf8', timeout: 120_000, env: {...process.env, NO_COLOR: '1'}})
      return {status: r.status, screen: r.stdout, report: JSON.parse(readFileSync(file, 'utf8'))}
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  }

  it('draws a bar in place on a real terminal, no line wider than it, and nothing with --quiet', () => {
    const shown = onTerminal([])
    expect(shown.status, shown.screen).toBe(0)
    // What is drawn in place: each text after a clear-line that no newline ends (those are log messages, wrapped by the terminal).
    const drawn = shown.screen.split('\r\u001b[2K').filter((l) => !l.includes('\n')).map((l) => l.replace(/\r$/, ''))
    expect(drawn.some((l) => /: sampling window \[#+-*\] \d+% \d\/2 s/.test(l)), shown.screen).toBe(true)
    expect(drawn.some((l) => /: key sample \[[#-]{20}\] \d+% \d+\/600 keys/.test(l)), shown.screen).toBe(true)
    for (const l of drawn) expect([...l].length, l).toBeLessThanOrEqual(99)
    const quiet = onTerminal(['--quiet'])
    expect(quiet.status).toBe(0)
    expect(quiet.screen).not.toMatch(/\u001b\[2K|sampling window|key sample/)
    expect(quiet.report.findings.length).toBe(shown.report.findings.length)
  }, 120_000)
})
