/**
 * Every PostgreSQL remedy that carries a name is pasted into psql with hostile names in it, and the catalogs show it
 * changed its own object and nothing else. The objects are real (roles, schemas, tables, indexes in scratch
 * databases named cp_paste_*), the remedies come from real audits (or, for the oldest-table VACUUM FREEZE, from the
 * real rule over the probe's own reading), and each paste is diffed: in a REPEATABLE READ transaction rolled back
 * where the statement allows one, for real otherwise (VACUUM, CREATE/DROP INDEX CONCURRENTLY).
 */
import type pg from 'pg'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {evaluateMetric} from '../../../src/core/engine.js'
import {compileRule, loadRules} from '../../../src/core/rules.js'
import {parseQualifiedName, quoteIdent, quoteQualified} from '../../../src/core/sql.js'
import type {Finding, Remedy} from '../../../src/core/types.js'
import {XID_WRAPAROUND} from '../../../src/probes/postgres/xid-age.js'
import {errorsOf, pasteForReal, pasteRolledBack, relationKey, settingKey} from '../../helpers/paste.js'
import {adminQuery, auditTarget, connect, forgetLoadWrites, PRIMARY_URL, readingOf, waitForSql, withDatabase, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_paste_hostile'
const url = withDatabase(PRIMARY_URL, DB)

/**
 * Role names (all under cp_paste_, so cleanup touches nothing else). Each says what it breaks when pasted bare:
 * the issue's injection, psql's own backslash commands and variables, quotes, case folding, newlines, unicode.
 */
const ROLES = [
  'cp_paste_app; DROP TABLE victim2; --',
  'cp_paste_x\\! touch pwned-by-psql',
  "cp_paste_it's",
  'cp_paste_say "hi"; --',
  'cp_paste_with space',
  'cp_paste_UPPER',
  'cp_paste_$$d$$ :x :\'y\'',
  'cp_paste_back\\slash',
  'cp_paste_new\nline\ttab',
  'cp_paste_ünï ☃ 名',
]
/** What the bare names would reach instead: the injection's ALTER ROLE cp_paste_app, and UPPER folded to upper. */
const NEIGHBOURS = ['cp_paste_app', 'cp_paste_upper', 'cp_paste_x']

/** [schema, table] pairs for the table remedies, with a lower-case twin of the mixed-case one to catch folding. */
const TABLES: Array<[string, string]> = [
  ['cp paste; DROP TABLE victim2; --', 't'],
  ['public', 'it\'s "x"; --'],
  ['a.b', 'c.d'],
  ['Mixed', 'UPPER'],
  ['public', '$$t$$ \\ back\nnew'],
  ['ünï ☃', 'glob*?[ab]'],
  ['public', '$(touch pwned) `x` a|b&c'],
]
const TWINS: Array<[string, string]> = [['mixed', 'upper'], ['a', 'b.c.d']]

async function dropRoles(): Promise<void> {
  for (const role of [...ROLES, ...NEIGHBOURS]) {
    await adminQuery(PRIMARY_URL, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role])
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${quoteIdent(role)}`)
  }
}

const remedyWith = (f: Finding, pattern: RegExp): Remedy => {
  const r = f.remedies.find((x) => pattern.test(String(x.sql)))
  if (!r) throw new Error(`${f.rule} ${f.subject}: no remedy matching ${pattern} in ${JSON.stringify(f.remedies)}`)
  return r
}

/** A finding's table as [schema, name], from the quote_ident form the probes put in evidence.table. */
const tableOf = (f: Finding): [string, string] => parseQualifiedName(String(f.evidence.table)) as [string, string]

beforeAll(async () => {
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await dropRoles()
  await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
  for (const role of [...ROLES, ...NEIGHBOURS]) await adminQuery(PRIMARY_URL, `CREATE ROLE ${quoteIdent(role)} LOGIN`)
  await adminQuery(url, 'CREATE TABLE public.victim2 (id int); CREATE TABLE public.victim (id int)')
})

afterAll(async () => {
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  await dropRoles()
})

describe('role remedies (idle in transaction, long-running query)', () => {
  const idle = new Map<string, {client: pg.Client; pid: number}>()
  const busy = new Map<string, {client: pg.Client; pid: number; query: Promise<unknown>}>()
  let findings: Finding[] = []

  beforeAll(async () => {
    for (const role of ROLES) {
      const a = await connect(withRole(url, role), 'cp-paste-idle')
      await a.query('BEGIN; SELECT 1')
      idle.set(role, {client: a, pid: (await a.query('SELECT pg_backend_pid() AS pid')).rows[0].pid})
      const b = await connect(withRole(url, role), 'cp-paste-busy')
      const pid = (await b.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
      busy.set(role, {client: b, pid, query: b.query('SELECT pg_sleep(300)').catch((e: Error) => e)})
    }
    await waitForSql(PRIMARY_URL, `SELECT count(*) = $1 AS ok FROM pg_stat_activity
      WHERE datname = '${DB}' AND now() - state_change > interval '2.5 seconds' AND state IN ('idle in transaction', 'active')
        AND application_name LIKE 'cp-paste-%'`, [ROLES.length * 2])
    const config = {rules: {'database/idle-in-transaction': {target: '< 1s', action: '> 2s'}, 'database/long-running-query': {target: '< 1s', action: '> 2s'}}}
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.activity'], config, options: {activityTopN: 500}, failOn: 'never'})
    findings = report.findings.filter((f) => ROLES.includes(String(f.evidence.usename)))
  })

  afterAll(async () => {
    for (const {client} of [...idle.values(), ...busy.values()]) await client.end().catch(() => {})
  })

  const findingOf = (rule: string, role: string) => {
    const f = findings.find((x) => x.rule === rule && x.evidence.usename === role)
    if (!f) throw new Error(`no ${rule} finding for ${JSON.stringify(role)}; have ${findings.map((x) => `${x.rule} ${JSON.stringify(x.evidence.usename)}`).join(', ')}`)
    return f
  }

  it.each(ROLES.map((r) => [r]))('ALTER ROLE ... SET changes the settings of %j and of nobody else', (role) => {
    for (const [rule, setting] of [['database/idle-in-transaction', 'idle_in_transaction_session_timeout=60s'], ['database/long-running-query', 'statement_timeout=30s']]) {
      const remedy = remedyWith(findingOf(rule, role), /^ALTER ROLE/)
      const paste = pasteRolledBack(url, String(remedy.sql))
      expect(errorsOf(paste), String(remedy.sql)).toEqual([])
      expect(paste.strayFiles).toEqual([])
      expect(paste.diff, String(remedy.sql)).toEqual({added: [settingKey(role)], removed: [], changed: []})
      expect(paste.after.settings[JSON.stringify([role, '*'])]).toEqual([setting])
    }
  })

  it('pg_cancel_backend and pg_terminate_backend end only the session they name', async () => {
    for (const role of ROLES) {
      const cancel = remedyWith(findingOf('database/long-running-query', role), /pg_cancel_backend/)
      const terminate = remedyWith(findingOf('database/idle-in-transaction', role), /pg_terminate_backend/)
      // Named by pid and start times, so a late paste (the statement done, the pid reused) ends nothing.
      expect(cancel.sql).toMatch(new RegExp(`^SELECT pg_cancel_backend\\(pid\\) FROM pg_stat_activity WHERE pid = ${busy.get(role)!.pid} AND backend_start = '[^']+'::timestamptz AND query_start = '[^']+'::timestamptz$`))
      expect(terminate.sql).toMatch(new RegExp(`^SELECT pg_terminate_backend\\(pid\\) FROM pg_stat_activity WHERE pid = ${idle.get(role)!.pid} AND backend_start = '[^']+'::timestamptz AND xact_start = '[^']+'::timestamptz$`))
      for (const r of [cancel, terminate]) expect(errorsOf(pasteRolledBack(url, String(r.sql)))).toEqual([])
      expect(String(await busy.get(role)!.query)).toMatch(/canceling statement/)
      await waitForSql(PRIMARY_URL, 'SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1) AS ok', [idle.get(role)!.pid])
    }
  })
})

/** The URL of `base` for a login as `role` (any characters: the URL encodes them). */
function withRole(base: string, role: string): string {
  const u = new URL(base)
  u.username = encodeURIComponent(role)
  return u.toString()
}

describe('table remedies (dead tuples, wraparound)', () => {
  let findings: Finding[] = []

  beforeAll(async () => {
    for (const [schema, table] of [...TABLES, ...TWINS]) {
      await adminQuery(url, `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`)
      await adminQuery(url, `CREATE TABLE ${quoteQualified(schema, table)} (id int, pad text) WITH (autovacuum_enabled = false);
        INSERT INTO ${quoteQualified(schema, table)} SELECT g, 'x' FROM generate_series(1, 20000) g`)
    }
    // 15,000 dead of 20,000 in the hostile tables only: their twins stay clean, so a remedy that reached a twin shows.
    for (const [schema, table] of TABLES) await adminQuery(url, `DELETE FROM ${quoteQualified(schema, table)} WHERE id > 5000`)
    await waitForSql(url, 'SELECT count(*) = $1 AS ok FROM pg_stat_user_tables WHERE n_dead_tup >= 15000', [TABLES.length])
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.tables'], failOn: 'never'})
    findings = report.findings.filter((f) => f.rule === 'database/dead-tuples')
    expect(findings.map(tableOf).sort()).toEqual([...TABLES].sort())
  })

  const findingOf = (schema: string, table: string) => findings.find((f) => JSON.stringify(tableOf(f)) === JSON.stringify([schema, table]))!

  it.each(TABLES)('ALTER TABLE %j.%j RESET (autovacuum_enabled) changes that table only', (schema, table) => {
    const remedy = remedyWith(findingOf(schema, table), /RESET \(autovacuum_enabled\)/)
    const paste = pasteRolledBack(url, String(remedy.sql))
    expect(errorsOf(paste), String(remedy.sql)).toEqual([])
    expect(paste.diff).toEqual({added: [], removed: [], changed: [relationKey(schema, table)]})
    expect((paste.after.relations[JSON.stringify([schema, table])] as {options: unknown}).options).toBeNull()
  })

  it.each(TABLES)('VACUUM (ANALYZE) and the scale factor reach %j.%j only', async (schema, table) => {
    const remedy = remedyWith(findingOf(schema, table), /^VACUUM \(ANALYZE\)/)
    const paste = await pasteForReal(url, String(remedy.sql))
    expect(errorsOf(paste), String(remedy.sql)).toEqual([])
    expect(paste.strayFiles).toEqual([])
    expect(paste.diff).toEqual({added: [], removed: [], changed: [relationKey(schema, table)]})
    const [before, after] = [paste.before, paste.after].map((c) => c.relations[JSON.stringify([schema, table])] as {options: string[]; vacuums: number})
    expect(after.vacuums).toBe(before.vacuums + 1)
    expect(after.options).toEqual(['autovacuum_enabled=false', 'autovacuum_vacuum_scale_factor=0.05'])
  })

  it.each(TABLES)('VACUUM (FREEZE) of the oldest table %j.%j freezes that table only', async (schema, table) => {
    // The probe reports only the single oldest table (a system catalog in a fresh database); its reading lists them
    // all, so the real rule is applied to the entry of each hostile table as the probe would emit it.
    const {snapshot} = await auditTarget(url, {onlyProbes: ['postgres.xid-age'], options: {xidTableLimit: 10_000}, failOn: 'never'})
    const data = readingOf(snapshot, 'postgres.xid-age').data as {autovacuumFreezeMaxAge: number; oldestTables: Array<{table: string; age: number; sizeBytes: number}>}
    const oldest = data.oldestTables.find((t) => JSON.stringify(parseQualifiedName(t.table)) === JSON.stringify([schema, table]))!
    const metric = {name: 'postgres.xid.age_ratio', subject: `table ${oldest.table}`, value: oldest.age / XID_WRAPAROUND,
      evidence: {database: DB, table: oldest.table, age: oldest.age, autovacuum_freeze_max_age: data.autovacuumFreezeMaxAge,
        transactionsLeft: XID_WRAPAROUND - oldest.age, sizeBytes: oldest.sizeBytes}}
    const rule = compileRule(loadRules().find((r) => r.id === 'database/xid-wraparound')!, {target: '< 0%', action: '>= 0%'})
    const remedy = remedyWith(evaluateMetric(rule, 'pg', metric, () => null, 'postgres')!, /^VACUUM \(FREEZE/)
    const paste = await pasteForReal(url, String(remedy.sql))
    expect(errorsOf(paste), String(remedy.sql)).toEqual([])
    expect(paste.diff.added.concat(paste.diff.removed)).toEqual([])
    expect(paste.diff.changed).toEqual([relationKey(schema, table)])
    const vacuums = [paste.before, paste.after].map((c) => (c.relations[JSON.stringify([schema, table])] as {vacuums: number}).vacuums)
    expect(vacuums[1]).toBe(vacuums[0] + 1)
  })
})

describe('index remedies (drop unused, duplicate and invalid indexes; create the advised index)', () => {
  const SCHEMA = 'cp paste; DROP TABLE victim2; --'
  const TABLE = 'orders "x"; --'
  const COLUMN = 'cust "id"; $$ \\'
  const INDEXES = {unused: 'idx it\'s; DROP TABLE victim2; --', dupA: 'dup $$a$$ `x`', dupB: 'dup ☃\nb', invalid: 'inv glob*?[x] \\'}
  const qualified = quoteQualified(SCHEMA, TABLE)
  const indexKey = (name: string) => relationKey(SCHEMA, name)

  it('each DROP INDEX CONCURRENTLY removes its own index, and the printed re-create brings the invalid one back', async () => {
    await withTempDatabase('cp_paste_indexes', async (db) => {
      await adminQuery(db, `CREATE SCHEMA ${quoteIdent(SCHEMA)}; CREATE TABLE public.victim2 (id int);
        CREATE TABLE ${qualified} (id int PRIMARY KEY, ${quoteIdent(COLUMN)} int, pad text);
        INSERT INTO ${qualified} SELECT g, g % 100, 'p' || (g % 10) FROM generate_series(1, 5000) g;
        CREATE INDEX ${quoteIdent(INDEXES.unused)} ON ${qualified} (pad);
        CREATE INDEX ${quoteIdent(INDEXES.dupA)} ON ${qualified} (${quoteIdent(COLUMN)});
        CREATE INDEX ${quoteIdent(INDEXES.dupB)} ON ${qualified} (${quoteIdent(COLUMN)})`)
      // A unique build over duplicates fails and leaves an invalid index behind.
      await expect(adminQuery(db, `CREATE UNIQUE INDEX CONCURRENTLY ${quoteIdent(INDEXES.invalid)} ON ${qualified} (pad)`)).rejects.toThrow(/duplicate|unique/i)
      const config = {rules: {'database/unused-index': {when: {statsAgeSeconds: '>= 0'}}}}
      const {report} = await auditTarget(db, {onlyProbes: ['postgres.indexes'], config, failOn: 'never'})
      const drops = new Map<string, Remedy>()
      for (const f of report.findings) for (const r of f.remedies) if (r.kind === 'drop-index' && typeof r.sql === 'string') drops.set(r.sql, r)
      const dropped = new Set<string>()
      for (const remedy of drops.values()) {
        const [schema, name] = parseQualifiedName(String(remedy.sql).replace(/^DROP INDEX CONCURRENTLY |;$/g, ''))!
        if (dropped.has(name)) continue
        expect(schema).toBe(SCHEMA)
        const paste = await pasteForReal(db, String(remedy.sql))
        expect(errorsOf(paste), String(remedy.sql)).toEqual([])
        expect(paste.diff, String(remedy.sql)).toEqual({added: [], removed: [indexKey(name)], changed: []})
        dropped.add(name)
      }
      // Unused: the pad index and both duplicates (all unscanned); duplicate: one of the pair; invalid: the failed build.
      expect([...dropped].sort()).toEqual([INDEXES.dupA, INDEXES.dupB, INDEXES.invalid, INDEXES.unused].sort())

      const invalid = report.findings.find((f) => f.rule === 'database/invalid-index')!
      const recreate = String(invalid.remedies.find((r) => r.kind === 'drop-index')!.recreateSql)
      await adminQuery(db, `UPDATE ${qualified} SET pad = 'u' || id`)
      const paste = await pasteForReal(db, recreate)
      expect(errorsOf(paste), recreate).toEqual([])
      expect(paste.diff).toEqual({added: [indexKey(INDEXES.invalid)], removed: [], changed: []})
      expect(paste.after.relations[JSON.stringify([SCHEMA, INDEXES.invalid])]).toMatchObject({valid: true})
    })
  })

  it('the index advisor\'s CREATE INDEX CONCURRENTLY creates one index, on the hostile table and column it names', async () => {
    await withTempDatabase('cp_paste_advisor', async (db) => {
      await adminQuery(db, `CREATE EXTENSION IF NOT EXISTS hypopg; CREATE SCHEMA ${quoteIdent(SCHEMA)}; CREATE TABLE public.victim2 (id int);
        CREATE TABLE ${qualified} (id int, ${quoteIdent(COLUMN)} int, pad text);
        INSERT INTO ${qualified} SELECT g, g, repeat('p', 50) FROM generate_series(1, 100000) g; ANALYZE ${qualified}`)
      // Else the load reads as a write-heavy table, on which the advisor rightly proposes nothing.
      await forgetLoadWrites(db)
      const queries = [{sql: `SELECT pad FROM ${qualified} WHERE ${quoteIdent(COLUMN)} = $1`}]
      const {report} = await auditTarget(db, {onlyProbes: ['postgres.plans'], failOn: 'never', options: {indexAdvisor: {queries}}})
      // The missing-index, statement and workload findings all carry the one index.
      const sqls = [...new Set(report.findings.flatMap((f) => f.remedies).filter((r) => r.kind === 'index').map((r) => String(r.sql)))]
      expect(sqls, JSON.stringify(report.findings.map((f) => f.message))).toHaveLength(1)
      const sql = sqls[0]
      const paste = await pasteForReal(db, sql)
      expect(errorsOf(paste), sql).toEqual([])
      expect(paste.diff.removed.concat(paste.diff.changed)).toEqual([])
      expect(paste.diff.added).toHaveLength(1)
      const created = paste.after.relations[paste.diff.added[0].slice('relations '.length)] as {definition: string; valid: boolean}
      expect(created.valid).toBe(true)
      expect(created.definition).toContain(`ON ${quoteIdent(SCHEMA)}.${quoteIdent(TABLE)} USING btree (${quoteIdent(COLUMN)})`)
    })
  })
})
