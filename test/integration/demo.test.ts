/**
 * `chokepoint demo` end to end, as a user runs it: the built CLI (`npm run build` first) as a child process,
 * with its own embedded PostgreSQL. Needs no test environment; Redis joins when one answers on REDIS_URL or
 * 127.0.0.1:6379, and its assertions run only then.
 */
import {remediesOfKind} from '../../src/core/remedies.js'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {beforeAll, describe, expect, it} from 'vitest'
import type {Finding, Report} from '../../src/core/types.js'
import {JUNIT_XSD, validateSarif, validateXml} from '../helpers/validators.js'

const ROOT = resolve(import.meta.dirname, '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Runs the CLI; `onStderr` may act on progress lines (e.g. send a signal) as they arrive. */
function runCli(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {cwd: ROOT, env: {...process.env, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      onStderr?.(stderr, child)
    })
    child.on('error', reject)
    child.on('close', (code, signal) => resolvePromise({code, signal, stdout, stderr}))
  })
}

/** Data directories the demo announced ("data in /tmp/chokepoint-demo-XXXX"). */
function announcedDir(stderr: string): string {
  const match = /data in (\S*chokepoint-demo-[A-Za-z0-9]+)/.exec(stderr)
  if (!match) throw new Error(`the demo did not announce its data directory:\n${stderr}`)
  return match[1]
}

/** PIDs of running processes whose command line mentions `text` (read from /proc, no ps parsing). */
function processesMentioning(text: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8')
      if (cmdline.includes(text)) pids.push(Number(entry))
    } catch {
      // The process ended while we looked.
    }
  }
  return pids
}

const byRule = (report: Report, rule: string): Finding[] => report.findings.filter((f) => f.rule === rule)

describe('chokepoint demo', () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'commands', 'demo.js'))) throw new Error('dist/commands/demo.js is missing: run `npm run build` first')
  })

  describe('--format json', () => {
    let run: Run
    let report: Report

    beforeAll(async () => {
      run = await runCli(['demo', '--format', 'json'])
      if (run.code !== 0) throw new Error(`demo exited ${run.code}:\n${run.stderr}`)
      report = JSON.parse(run.stdout) as Report
    }, 120_000)

    it('exits 0 although the report has critical findings, and leaves nothing behind', () => {
      expect(run.code).toBe(0)
      expect(report.summary.critical).toBeGreaterThan(0)
      expect(report.gate.passed).toBe(false)
      const dir = announcedDir(run.stderr)
      expect(existsSync(dir)).toBe(false)
      expect(processesMentioning(dir)).toEqual([])
    })

    it('audits the embedded PostgreSQL completely, with its password removed from the report', () => {
      const pg = report.targets.find((t) => t.kind === 'postgres')!
      expect(pg).toMatchObject({name: 'shop-db', status: 'ok'})
      expect(pg.url).toContain('<password removed>')
      expect(report.skipped.filter((s) => s.target === 'shop-db' && s.status === 'error')).toEqual([])
    })

    it('finds the web tier holding most connections: pool/utilization critical', () => {
      const [pool] = byRule(report, 'pool/utilization')
      expect(pool).toBeDefined()
      expect(pool.severity).toBe('critical')
      expect(pool.value).toBeGreaterThan(0.9)
      expect(pool.evidence.idle).toBeGreaterThanOrEqual(80)
    })

    it('proposes dropping the unused and the duplicate index', () => {
      const unused = byRule(report, 'database/unused-index')
      expect(unused.map((f) => f.subject)).toContain('"public"."orders_total_cents_idx"')
      const unusedDrop = unused.find((f) => f.subject.includes('orders_total_cents_idx'))!.remedies.find((r) => r.kind === 'drop-index')
      expect(unusedDrop?.sql).toMatch(/DROP INDEX .*orders_total_cents_idx/)

      const duplicate = byRule(report, 'database/duplicate-index').filter((f) => f.target === 'shop-db')
      expect(duplicate).toHaveLength(1)
      expect(duplicate[0].subject).toMatch(/orders_created_at(_copy)?_idx/)
      const duplicateDrop = duplicate[0].remedies.find((r) => r.kind === 'drop-index')
      expect(duplicateDrop?.sql).toMatch(/DROP INDEX .*orders_created_at(_copy)?_idx/)
    })

    it('finds the slow statement, the sequentially scanned tables and the forgotten transaction', () => {
      const slow = byRule(report, 'database/slow-statement')
      expect(slow.length).toBeGreaterThanOrEqual(1)
      expect(slow.every((f) => (f.value ?? 0) > 0.1)).toBe(true)

      const seqScanned = byRule(report, 'database/seq-scan-heavy-table').map((f) => f.subject)
      expect(seqScanned).toContain('table public.sessions')
      expect(byRule(report, 'database/seq-scan-heavy-table').find((f) => f.subject === 'table public.sessions')?.severity).toBe('critical')

      const idle = byRule(report, 'database/idle-in-transaction')
      expect(idle).toHaveLength(1)
      expect(idle[0].value).toBeGreaterThan(10)
    })

    it('proposes the missing indexes behind the slow lookups', () => {
      const missing = byRule(report, 'database/missing-index')
      const tables = missing.flatMap((f) => remediesOfKind(f.remedies, 'index').map((r) => r.table))
      expect(tables).toEqual(expect.arrayContaining(['public.sessions', 'public.orders', 'public.order_items']))
      const sessions = remediesOfKind(missing.flatMap((f) => f.remedies), 'index').find((r) => r.table === 'public.sessions')
      expect(sessions?.columns).toEqual(['token'])
    })

    it('includes the Redis cache and queues when a Redis answers, and removes their keys', async () => {
      const redis = report.targets.find((t) => t.kind === 'redis')
      if (!redis) {
        expect(run.stderr).toMatch(/Redis: not reachable at .*skipping the cache and queue part/)
        return
      }
      expect(redis.status).toBe('ok')
      const prefix = /keys containing (chokepoint-demo-[0-9a-f]+)/.exec(run.stderr)![1]
      expect(byRule(report, 'queue/depth').some((f) => f.subject.includes(prefix) && f.severity === 'critical')).toBe(true)
      expect(byRule(report, 'cache/no-ttl-pattern').length).toBeGreaterThanOrEqual(1)
      const {Redis} = await import('ioredis')
      const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
      try {
        const [, keys] = await client.scan('0', 'MATCH', `*${prefix}*`, 'COUNT', 10_000)
        expect(keys).toEqual([])
      } finally {
        client.disconnect()
      }
    })

    it('includes a MySQL/MariaDB database when one answers: index health on its planted indexes, then drops it', async () => {
      const mysql = report.targets.find((t) => t.kind === 'mysql')
      if (!mysql) {
        expect(run.stderr).toMatch(/MySQL\/MariaDB: (not reachable at .*|seeding failed .*), skipping that part/)
        return
      }
      expect(mysql.status).toBe('ok')
      const database = /database (chokepoint_demo_[0-9a-f]+):/.exec(run.stderr)![1]
      const onDemo = (rule: string) => byRule(report, rule).filter((f) => f.target === mysql.name).map((f) => f.subject)
      expect(onDemo('database/duplicate-index').sort()).toEqual([`\`${database}\`.\`customers\` \`idx_country\``, `\`${database}\`.\`customers\` \`idx_email_again\``])
      expect(onDemo('database/mysql-no-primary-key')).toEqual([`\`${database}\`.\`order_events\``])
      // The statements probe needs performance_schema: off (MariaDB's default), the report says how to turn it on.
      const statements = report.skipped.find((c) => c.target === mysql.name && c.probe === 'mysql.statements')
      if (statements) expect(statements.reason).toMatch(/performance_schema=ON/)
      const {createConnection} = await import('mysql2/promise')
      const url = new URL(process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306')
      const connection = await createConnection({host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username || 'root'), password: url.password ? decodeURIComponent(url.password) : undefined})
      try {
        const [rows] = await connection.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database])
        expect(rows).toEqual([])
      } finally {
        connection.destroy()
      }
    })
  })

  describe('several outputs, as audit takes them: --format FORMAT[=FILE] repeated', () => {
    let run: Run
    const dir = mkdtempSync(join(tmpdir(), 'cp-demo-formats-'))
    const file = (name: string) => join(dir, name)

    beforeAll(async () => {
      run = await runCli(['demo', '--format', 'table', '--format', `html=${file('demo.html')}`, '--format', `sarif=${file('demo.sarif')}`,
        '--format', `junit=${file('demo.xml')}`, '--format', `json=${file('demo.json')}`])
      if (run.code !== 0) throw new Error(`demo exited ${run.code}:\n${run.stderr}`)
    }, 120_000)

    it('writes the table on stdout and each file from the one audit', () => {
      expect(run.stdout).toMatch(/^gate failed \(--fail-on critical\)/m)
      const report = JSON.parse(readFileSync(file('demo.json'), 'utf8')) as Report
      const html = readFileSync(file('demo.html'), 'utf8')
      const embedded = /<script type="application\/json" id="chokepoint-report">([^<]*)<\/script>/.exec(html)![1]
      expect(JSON.parse(embedded)).toEqual(report)
      // The charts are drawn from the demo's snapshot too, as audit's are: the statements' share of time, the Redis key
      // sample (when a Redis joined), the queues and the pool. Index costs after need hypopg, which the embedded server
      // lacks: the chart says so instead of "no data".
      const marks = Object.fromEntries([...html.matchAll(/data-chart="([a-z-]+)" data-marks="(\d+)"/g)].map((m) => [m[1], Number(m[2])]))
      for (const id of ['db-time', 'index-size', 'pool-chain', 'checks-heatmap']) expect(marks[id], id).toBeGreaterThan(0)
      if (report.targets.some((t) => t.kind === 'redis')) for (const id of ['redis-memory', 'queue-depth', 'queue-age']) expect(marks[id], id).toBeGreaterThan(0)
      if (marks['index-cost'] === 0) expect(html).toMatch(/data-chart="index-cost" data-marks="0"><figcaption>[^<]*<\/figcaption><p class="chart-note">The index advisor&#39;s proposals were not planned, so there is no cost after to draw: not verified: hypopg is not installed/)
      expect(validateXml(readFileSync(file('demo.xml'), 'utf8'), JUNIT_XSD)).toBeNull()
      const sarif = readFileSync(file('demo.sarif'), 'utf8')
      expect(JSON.parse(sarif).runs[0].results).toHaveLength(report.findings.length)
      expect(validateSarif(sarif).filter((p) => p.level === 'error')).toEqual([])
      rmSync(dir, {recursive: true, force: true})
    }, 60_000)

    it('refuses an unknown format in one line, exit 2, before any server starts', async () => {
      const bad = await runCli(['demo', '--format', 'pdf'])
      expect(bad.code).toBe(2)
      expect(bad.stderr.trim().split('\n'), bad.stderr).toHaveLength(1)
      expect(bad.stderr).toMatch(/unknown report format "pdf": use one of .*html.*sarif/)
    })
  })

  it('on Ctrl-C during seeding: exits 130, stops the server and removes its directory', async () => {
    let sent = false
    const run = await runCli(['demo', '--format', 'json'], (stderr, child) => {
      if (!sent && stderr.includes('seeding the shop')) {
        sent = true
        child.kill('SIGINT')
      }
    })
    expect(sent).toBe(true)
    expect(run.code).toBe(130)
    expect(run.stdout).toBe('')
    const dir = announcedDir(run.stderr)
    expect(existsSync(dir)).toBe(false)
    expect(processesMentioning(dir)).toEqual([])
    expect(readdirSync(tmpdir()).filter((e) => join(tmpdir(), e) === dir)).toEqual([])
  }, 60_000)

  it('--help says the demo exits 0 even with critical findings', async () => {
    const run = await runCli(['demo', '--help'])
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(/0 the demo ran/)
    // The same formats as audit, repeatable with a file each.
    expect(run.stdout.replace(/\s+/g, ' ')).toContain('--format=<value>... Report format: table, json, markdown, html, sarif, junit, or one a plugin adds; FORMAT=FILE')
  })
})
