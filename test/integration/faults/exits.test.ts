/**
 * The report is written and then the process exits: the cases that used to leave a socket open after the report
 * (a failed PostgreSQL session setup, NATS that never completes its handshake), each run with the built CLI
 * (`npm run build` first). "Promptly" is the connect timeout plus a few seconds; none may need the exit watchdog.
 */
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, afterEach, describe, expect, it} from 'vitest'
import {PgSession} from '../../../src/drivers/postgres.js'
import {runCliAsync, type TimedCliResult} from '../../helpers/cli.js'
import {startFaultProxy, startSynBlackhole} from '../../helpers/fault-proxy.js'
import {adminQuery, PGBOUNCER_STATS_URL, PRIMARY_URL, waitForSql, withTempDatabase} from '../../helpers/pg.js'

const tmp = mkdtempSync(join(tmpdir(), 'chokepoint-exits-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

/** NATS's connect timeout (5 s by default) plus process start-up and a margin: well short of the watchdog's help. */
const PROMPT_MS = 12_000

function audit(args: string[], timeoutMs = 40_000): Promise<TimedCliResult> {
  return runCliAsync(['audit', ...args, '--window', '0', '--json', '--fail-on', 'never'], {timeoutMs})
}

function expectPromptExit(result: TimedCliResult, label: string): {error?: string} {
  process.stderr.write(`[exits] ${label}: ${(result.ms / 1000).toFixed(1)} s, exit ${result.status}${result.killed ? ' (killed)' : ''}\n`)
  expect(result.killed, 'the process was still alive and had to be killed').toBe(false)
  expect(result.ms).toBeLessThan(PROMPT_MS)
  expect(result.status, result.stderr).toBe(3)
  // Closed by the driver, not ended by the watchdog.
  expect(result.stderr).not.toMatch(/still running .* after the command finished/)
  const report = JSON.parse(result.stdout) as {targets: Array<{name: string; status: string; error?: string}>}
  const target = report.targets.find((t) => t.name === 'faulty')!
  expect(target.status).toBe('error')
  return target
}

function config(name: string, target: Record<string, unknown>): string {
  const file = join(tmp, `${name}.json`)
  // JSON.stringify cannot write 1e309; written as it is, the config reader parses it to Infinity, as a user wrote it.
  writeFileSync(file, JSON.stringify({targets: [{name: 'faulty', ...target}]}).replace('"__INFINITY__"', '1e309'))
  return file
}

describe('a PostgreSQL session whose setup batch fails', () => {
  it('PgBouncer\'s admin console given as --pg: the report says what it is, and the process exits', async () => {
    const file = config('console-as-pg', {kind: 'postgres', url: PGBOUNCER_STATS_URL})
    const target = expectPromptExit(await audit(['--config', file]), 'pgbouncer console as --pg')
    expect(target.error).toMatch(/PgBouncer's admin console/)
  }, 60_000)

  // The config check refuses these before any connection (exit 2, one line); the library path below shows the
  // driver closing its session for each value the server refuses.
  it.each([['-5', -5], ['1e309', '__INFINITY__']])('statementTimeoutMs %s: refused on load, on one line, and the process exits', async (label, value) => {
    const file = config(`statement-timeout-${label}`, {kind: 'postgres', url: PRIMARY_URL, options: {statementTimeoutMs: value}})
    const result = await audit(['--config', file])
    expect(result.killed).toBe(false)
    expect(result.ms).toBeLessThan(PROMPT_MS)
    expect(result.status).toBe(2)
    expect(result.stderr.trim().split('\n')).toHaveLength(1)
    expect(result.stderr).toMatch(/statementTimeoutMs/)
  }, 60_000)

  it('closes its connection for any refused value, "abc" included (config validation stops that one before the CLI)', async () => {
    await withTempDatabase('cp_dl_setup_fails', async (url) => {
      for (const value of ['abc', -5, Number.POSITIVE_INFINITY]) {
        await expect(PgSession.open(url, {statementTimeoutMs: value as number})).rejects.toThrow(/statement_timeout/)
      }
      // The server sees every one of those sessions end (before the fix, each stayed open for good).
      await waitForSql(PRIMARY_URL, 'SELECT count(*) = 0 AS ok FROM pg_stat_activity WHERE datname = $1', ['cp_dl_setup_fails'], 10_000)
      expect((await adminQuery(PRIMARY_URL, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', ['cp_dl_setup_fails']))[0].n).toBe(0)
    })
  }, 60_000)
})

describe('NATS that never completes the handshake', () => {
  it('a listener that accepts and never answers: the target errors after the connect timeout, and the process exits', async () => {
    const proxy = await startFaultProxy({port: 4222})
    cleanups.push(() => proxy.close())
    proxy.drop()
    const target = expectPromptExit(await audit(['--config', config('nats-silent', {kind: 'nats', url: `nats://127.0.0.1:${proxy.port}`})]), 'nats silent listener')
    expect(proxy.accepted).toBeGreaterThan(0)
    expect(target.error).toMatch(/no answer from 127\.0\.0\.1:\d+ within 5 s/)
  }, 60_000)

  it('a port that drops packets: the dial is given up at the connect timeout, not when the kernel gives up', async () => {
    const hole = await startSynBlackhole()
    cleanups.push(() => hole.stop())
    // Killed at 160 s, so a run against code without the fix shows how long the kernel's SYN retries take.
    const result = await audit(['--config', config('nats-drops', {kind: 'nats', url: `nats://127.0.0.1:${hole.port}`})], 160_000)
    const target = expectPromptExit(result, 'nats port dropping packets')
    expect(target.error).toMatch(/no answer from 127\.0\.0\.1:\d+ within 5 s/)
  }, 180_000)
})
