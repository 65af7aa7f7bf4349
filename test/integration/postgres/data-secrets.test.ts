/**
 * Secrets that sit in the data the probes read (issue 8): query texts of pg_stat_activity and pg_stat_statements
 * carry passwords and tokens as literals and comments. They must reach no finding, report, rendering, snapshot or
 * verbose log, while the findings still fire with a recognisable, normalised text.
 */
import {randomBytes} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import type pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Report, Snapshot} from '../../../src/core/types.js'
import {runCli} from '../../helpers/cli.js'
import {adminQuery, auditTarget, connect, PRIMARY_URL, readingOf, waitForSql, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_ds_secrets'
const ROLE = 'cp_ds_role'
const url = withDatabase(PRIMARY_URL, DB)
const RUN = randomBytes(4).toString('hex')

/** What must never be printed; each is unique to this run, so a match can only be a leak. */
const SECRETS = {
  password: `S3cret-pw-${RUN}`,
  sleepToken: `tok-sleep-${RUN}`,
  // Straddles character 200 (where the probe used to cut texts) and byte track_activity_query_size - 1 (where the
  // server cuts them): only the part before the cut is in the text read, so that part is what must not leak.
  at200: `S3cret-200-${RUN}`,
  atServerCut: `S3cret-cut-${RUN}`,
  doToken: `tok-do-${RUN}`,
  commentToken: `tok-comment-${RUN}`,
}

const RULES = {
  'database/long-running-query': {target: '< 1s', action: '> 2s'},
  'database/idle-in-transaction': {target: '< 1s', action: '> 2s'},
  'database/slow-statement': {target: '< 1ms', action: '> 10s'},
}

function expectNoSecret(where: string, text: string): void {
  const leaked = Object.entries(SECRETS).filter(([, secret]) => text.includes(secret)).map(([name]) => name)
  expect(leaked, `secrets leaked into ${where}`).toEqual([])
}

async function backendPid(client: pg.Client): Promise<number> {
  return (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
}

/** A statement longer than the server keeps, with one secret literal across character 200 and one across the cut. */
function truncatedStatement(querySize: number): string {
  const head = 'SELECT pg_sleep(300) AS slept, '
  const first = `'${SECRETS.at200}${'x'.repeat(40)}' AS a, `
  const pad1 = ' '.repeat(178 - head.length)
  const before = head + pad1 + first
  const cut = querySize - 1
  const pad2 = ' '.repeat(cut - 25 - before.length)
  return `${before}${pad2}'${SECRETS.atServerCut}${'y'.repeat(40)}' AS b`
}

describe('secrets in query texts never reach any output', () => {
  const held: pg.Client[] = []
  const running: Array<Promise<unknown>> = []
  const pids = {idleTx: 0, sleeper: 0, truncated: 0}
  let dir: string
  let report: Report
  let snapshot: Snapshot

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cp-ds-'))
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`)
    await adminQuery(PRIMARY_URL, `CREATE ROLE ${ROLE}`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL);
      INSERT INTO orders SELECT g, g % 100 FROM generate_series(1, 5000) g; ANALYZE orders;`)

    // pg_stat_statements: a utility statement it keeps as written (track_utility), and a plannable one whose
    // constants it replaces but whose comment it keeps.
    const app = await connect(url, 'cp-ds-app')
    try {
      for (let i = 0; i < 10; i++) {
        await app.query(`DO $$BEGIN PERFORM pg_sleep(0.005); PERFORM '${SECRETS.doToken}'; END$$`)
        await app.query(`SELECT /* ${SECRETS.commentToken} */ count(*) FROM orders WHERE customer = ${i}`)
      }
    } finally {
      await app.end()
    }

    const [{size}] = await adminQuery<{size: number}>(url, `SELECT setting::int AS size FROM pg_settings WHERE name = 'track_activity_query_size'`)

    // Idle in transaction right after setting a password: pg_stat_activity shows that statement as the last query,
    // and pg_stat_statements records it as written.
    const idle = await connect(url, 'cp-ds-idle-tx')
    held.push(idle)
    pids.idleTx = await backendPid(idle)
    await idle.query('BEGIN')
    await idle.query(`ALTER ROLE ${ROLE} PASSWORD '${SECRETS.password}'`)

    const sleeper = await connect(url, 'cp-ds-sleeper')
    held.push(sleeper)
    pids.sleeper = await backendPid(sleeper)
    running.push(sleeper.query(`SELECT pg_sleep(300), '${SECRETS.sleepToken}' AS tok`).catch((e: Error) => e))

    const truncated = await connect(url, 'cp-ds-truncated')
    held.push(truncated)
    pids.truncated = await backendPid(truncated)
    running.push(truncated.query(truncatedStatement(size)).catch((e: Error) => e))

    await waitForSql(PRIMARY_URL, `SELECT count(*) = 3 AS ok FROM pg_stat_activity
      WHERE pid = ANY($1) AND now() - coalesce(CASE WHEN state = 'active' THEN query_start ELSE state_change END, now()) > interval '2.5 seconds'`,
    [[pids.idleTx, pids.sleeper, pids.truncated]])
    // The premises: the server cut the long text inside the second literal, and every secret is in what the probes read.
    const [cut] = await adminQuery(PRIMARY_URL, `SELECT octet_length(query) AS bytes, query FROM pg_stat_activity WHERE pid = $1`, [pids.truncated])
    expect(cut.bytes).toBe(size - 1)
    expect(cut.query).toContain(SECRETS.atServerCut)
    expect(cut.query).not.toContain(`${SECRETS.atServerCut}${'y'.repeat(40)}'`)
    const [pss] = await adminQuery(url, `SELECT string_agg(query, ' ') AS texts FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`)
    for (const s of [SECRETS.password, SECRETS.doToken, SECRETS.commentToken]) expect(pss.texts).toContain(s)

    ;({report, snapshot} = await auditTarget(url, {config: {rules: RULES}, failOn: 'never'}))
    writeFileSync(join(dir, 'config.json'), JSON.stringify({rules: RULES}))
  }, 180_000)

  afterAll(async () => {
    for (const pid of [pids.sleeper, pids.truncated]) if (pid) await adminQuery(PRIMARY_URL, 'SELECT pg_cancel_backend($1)', [pid]).catch(() => {})
    await Promise.all(running)
    await Promise.all(held.splice(0).map((c) => c.end().catch(() => {})))
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`)
    rmSync(dir, {recursive: true, force: true})
  })

  it('runAudit: no secret in the report or the snapshot', () => {
    expectNoSecret('the report', JSON.stringify(report))
    expectNoSecret('the snapshot', JSON.stringify(snapshot))
  })

  it('the activity findings still fire, with the normalised text', () => {
    const finding = (rule: string, pid: number) => report.findings.find((f) => f.rule === rule && f.subject === `pid ${pid}`)
    const idle = finding('database/idle-in-transaction', pids.idleTx)
    expect(idle?.severity).toBe('critical')
    expect(idle!.message).toMatch(/last query: ALTER ROLE\b.*redacted/)
    const sleeper = finding('database/long-running-query', pids.sleeper)
    expect(sleeper?.severity).toBe('critical')
    expect(sleeper!.message).toContain('SELECT pg_sleep($1), $2 AS tok')
    // Cut by the server inside a literal, so it does not parse: what the scanner read before the cut, literals replaced.
    const truncated = finding('database/long-running-query', pids.truncated)
    expect(truncated?.severity).toBe('critical')
    expect(truncated!.message).toMatch(/SELECT pg_sleep\(\$1\) AS slept, \$2 AS a, /)
  })

  it('pg_stat_statements texts are stored and shown normalised, utility statements and comments included', () => {
    const statements = (readingOf(snapshot, 'postgres.statements').data as {statements: Array<{query: string; calls: number}>}).statements
    const texts = statements.map((s) => s.query)
    expect(texts).toContain('DO $1')
    expect(texts).toContain('SELECT count(*) FROM orders WHERE customer = $1')
    expect(texts.some((t) => /^ALTER ROLE\b.*redacted/.test(t)), JSON.stringify(texts)).toBe(true)
    const slow = report.findings.find((f) => f.rule === 'database/slow-statement' && /`DO \$1`/.test(f.message))
    expect(slow, JSON.stringify(report.findings.map((f) => f.message))).toBeDefined()
    // The index advisor's workload is the same text: planned, and printed, without the comment.
    const plans = (readingOf(snapshot, 'postgres.plans').data as {statements: Array<{sql: string; cost?: number}>}).statements
    const planned = plans.find((s) => s.sql === 'SELECT count(*) FROM orders WHERE customer = $1')
    expect(planned?.cost, JSON.stringify(plans.map((s) => s.sql))).toBeGreaterThan(0)
  })

  it('unsafeRawQueryTexts keeps the server texts beside the safe ones in the readings, and never in findings', async () => {
    const raw = await auditTarget(url, {config: {rules: RULES}, failOn: 'never', options: {unsafeRawQueryTexts: true},
      onlyProbes: ['postgres.activity', 'postgres.statements']})
    const activity = readingOf(raw.snapshot, 'postgres.activity').data as {longestIdleInTransaction: Array<{pid: number; query: string; rawQuery: string}>}
    const idle = activity.longestIdleInTransaction.find((s) => s.pid === pids.idleTx)!
    expect(idle.rawQuery).toContain(SECRETS.password)
    expect(idle.query).toMatch(/^ALTER ROLE … \[redacted/)
    const statements = (readingOf(raw.snapshot, 'postgres.statements').data as {statements: Array<{rawQuery: string}>}).statements
    expect(statements.some((s) => s.rawQuery.includes(SECRETS.doToken))).toBe(true)
    expectNoSecret('the report of an unsafeRawQueryTexts audit', JSON.stringify(raw.report))
    expectNoSecret('the metrics of an unsafeRawQueryTexts audit', JSON.stringify(raw.snapshot.readings.map((r) => r.metrics)))
  })

  it('the CLI: table, json and markdown output and the captured snapshot carry no secret', () => {
    const config = join(dir, 'config.json')
    let json: Report | undefined
    for (const format of ['table', 'json', 'markdown']) {
      const r = runCli(['audit', '--pg', url, '--window', '0', '--config', config, '--format', format, '--fail-on', 'never', '--verbose'])
      expect(r.status, r.stderr).toBe(0)
      expectNoSecret(`audit --format ${format}`, r.stdout)
      expectNoSecret(`audit --format ${format} (stderr)`, r.stderr)
      if (format === 'json') json = JSON.parse(r.stdout)
      if (format !== 'json') expect(r.stdout).toContain('pg_sleep($1)')
    }
    expect(json!.findings.some((f) => f.rule === 'database/idle-in-transaction' && f.subject === `pid ${pids.idleTx}` && /ALTER ROLE/.test(f.message))).toBe(true)
    expect(json!.findings.some((f) => f.rule === 'database/long-running-query' && f.subject === `pid ${pids.sleeper}`)).toBe(true)

    const file = join(dir, 'snapshot.json')
    const captured = runCli(['capture', '--pg', url, '--window', '0', '--config', config, '-o', file, '--verbose'])
    expect(captured.status, captured.stderr).toBe(0)
    expectNoSecret('capture (stderr)', captured.stderr)
    const text = readFileSync(file, 'utf8')
    expectNoSecret('the captured snapshot', text)
    expect(text).toContain('pg_sleep($1)')
    const replayed = runCli(['report', file, '--config', config, '--format', 'markdown', '--fail-on', 'never'])
    expectNoSecret('report FILE', replayed.stdout + replayed.stderr)
    expect(replayed.stdout).toContain('ALTER ROLE')
  }, 240_000)
})
