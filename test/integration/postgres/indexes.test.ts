import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {remedyOfKind, remediesOfKind} from '../../../src/core/remedies.js'
import type pg from 'pg'
import type {Finding, Remedy} from '../../../src/core/types.js'
import type {IndexesData} from '../../../src/probes/postgres/indexes.js'
import {PRIMARY_URL, REPLICA_URL, adminQuery, auditTarget, connect, readingOf, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_indexes'
const url = withDatabase(PRIMARY_URL, DB)
const replicaUrl = withDatabase(REPLICA_URL, DB)
const youngStatsAllowed = {rules: {'database/unused-index': {when: {statsAgeSeconds: '>= 0'}}}}

const byRule = (findings: Finding[], rule: string) => findings.filter((f) => f.rule === rule)
const dropRemedies = (findings: Finding[]) => findings.flatMap((f) => remediesOfKind(f.remedies, 'drop-index'))

describe('postgres.indexes', () => {
  let rw: pg.Client

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    rw = await connect(url)
    await rw.query(`
      CREATE TABLE orders (id int PRIMARY KEY, a int, b int, code int, note text, CONSTRAINT orders_note_key UNIQUE (note));
      INSERT INTO orders SELECT g, g % 50, g % 7, g % 10, 'n' || g FROM generate_series(1, 2000) g;
      CREATE INDEX orders_a_idx ON orders (a);                -- a prefix of orders_a_b_idx: duplicate
      CREATE INDEX orders_a_b_idx ON orders (a, b);           -- never scanned: unused (when the stats are old enough)
      CREATE INDEX orders_b_idx1 ON orders (b);               -- two identical indexes: exactly one is a duplicate
      CREATE INDEX orders_b_idx2 ON orders (b);
      CREATE INDEX orders_id_plain ON orders (id);            -- same as the primary key: the plain one goes, never the key
      CREATE UNIQUE INDEX orders_id_a_uniq ON orders (id, a); -- unique, never scanned: must never be proposed
      CREATE INDEX orders_partial_a ON orders (a) WHERE code = 1; -- a different predicate: not a duplicate of orders_a_idx
      CREATE TABLE "Mixed Case" (id int PRIMARY KEY, "Some Col" text, "Other Col" text);
      INSERT INTO "Mixed Case" SELECT g, 'v' || g, 'w' || g FROM generate_series(1, 500) g;
      CREATE INDEX "Ugly Index" ON "Mixed Case" ("Some Col");
      CREATE INDEX "we""ird" ON "Mixed Case" ("Other Col");
      ANALYZE;
    `)
    // A UNIQUE index built concurrently over duplicate codes fails and leaves an invalid index behind.
    await expect(rw.query('CREATE UNIQUE INDEX CONCURRENTLY orders_code_uniq ON orders (code)')).rejects.toThrow(/duplicate|unique/i)
  })

  afterAll(async () => {
    await rw?.end().catch(() => {})
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('reads the catalog in a constant number of round trips and dates the statistics', async () => {
    const {snapshot} = await auditTarget(url, {onlyProbes: ['postgres.indexes']})
    const reading = readingOf(snapshot, 'postgres.indexes')
    expect(reading.status).toBe('ok')
    const data = reading.data as IndexesData
    // The database was created seconds ago and never reset: its counters are young, and we know it.
    expect(data.statsSinceSource).toMatch(/database created/)
    expect(data.statsAgeSeconds).not.toBeNull()
    expect(data.statsAgeSeconds!).toBeLessThan(3600)
    expect(data.indexCount).toBe(13)
    const overhead = snapshot.overhead!.find((o) => o.target === 'pg')!
    const probeTrips = overhead.commands.filter((c) => c.probe === 'postgres.indexes').reduce((n, c) => n + c.count, 0)
    expect(probeTrips).toBeLessThanOrEqual(4)
  })

  it('reports duplicates and the invalid index, but proposes no unused drop on statistics this young', async () => {
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.indexes'], failOn: 'never'})
    expect(byRule(report.findings, 'database/unused-index')).toEqual([])
    expect(dropRemedies(report.findings).filter((r) => r.reason === 'unused')).toEqual([])

    const duplicates = byRule(report.findings, 'database/duplicate-index')
    expect(duplicates.map((f) => f.subject).sort()).toEqual(['"public"."orders_a_idx"', '"public"."orders_b_idx2"', '"public"."orders_id_plain"'])
    const aIdx = duplicates.find((f) => f.subject === '"public"."orders_a_idx"')!
    expect(aIdx.severity).toBe('warning')
    expect(aIdx.remedies).toEqual([expect.objectContaining({
      kind: 'drop-index', index: '"public"."orders_a_idx"', table: '"public"."orders"', reason: 'duplicate of "public"."orders_a_b_idx"',
      sql: 'DROP INDEX CONCURRENTLY "public"."orders_a_idx";', sizeBytes: expect.any(Number),
    })])
    expect(remedyOfKind(duplicates.find((f) => f.subject === '"public"."orders_id_plain"')!.remedies, 'drop-index')!.reason).toBe('duplicate of "public"."orders_pkey"')

    const invalid = byRule(report.findings, 'database/invalid-index')
    expect(invalid.map((f) => f.subject)).toEqual(['"public"."orders_code_uniq"'])
    expect(invalid[0].remedies[0]).toMatchObject({kind: 'drop-index', reason: 'invalid', sql: 'DROP INDEX CONCURRENTLY "public"."orders_code_uniq";'})
    expect(remedyOfKind(invalid[0].remedies, 'drop-index')!.recreateSql).toMatch(/^CREATE UNIQUE INDEX CONCURRENTLY orders_code_uniq ON public\.orders/)
  })

  it('with the statistics age override, proposes the unused indexes, quoted, and never a unique, primary or constraint index', async () => {
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.indexes'], failOn: 'never', config: youngStatsAllowed})
    const unused = byRule(report.findings, 'database/unused-index')
    expect(unused.map((f) => f.subject).sort()).toEqual([
      '"public"."Ugly Index"', '"public"."orders_a_b_idx"', '"public"."orders_b_idx1"', '"public"."orders_partial_a"', '"public"."we""ird"',
    ])
    const ugly = unused.find((f) => f.subject === '"public"."Ugly Index"')!
    expect(ugly.remedies).toHaveLength(1)
    expect(ugly.remedies[0]).toMatchObject({kind: 'drop-index', index: '"public"."Ugly Index"', table: '"public"."Mixed Case"', reason: 'unused',
      sql: 'DROP INDEX CONCURRENTLY "public"."Ugly Index";'})
    // The test primary streams to a replica: a zero here says nothing about the replica's reads.
    expect(ugly.evidence.checkReplicas).toBe(true)
    expect(remedyOfKind(ugly.remedies, 'drop-index')!.checkReplicas).toBe(true)
    expect(ugly.remedies[0].summary).toMatch(/every standby/)
    expect(ugly.message).toMatch(/standby/)

    const proposed = dropRemedies(report.findings).map((r) => r.index)
    for (const protectedIndex of ['orders_pkey', 'orders_note_key', 'orders_id_a_uniq', 'Mixed Case_pkey']) {
      expect(proposed).not.toContain(`"public"."${protectedIndex}"`)
    }
  })

  it('lists at most indexesFlaggedLimit indexes of each kind, the largest first, and counts the rest', async () => {
    const full = readingOf((await auditTarget(url, {onlyProbes: ['postgres.indexes']})).snapshot, 'postgres.indexes').data as IndexesData
    expect(full.notShown).toEqual({unused: 0, duplicate: 0, invalid: 0})
    expect(full.flaggedLimit).toBe(100)
    // A data limit of 2 leaves the never-scanned indexes that pair with no other (Ugly Index is the second largest
    // unused one) on the server: only the largest of them may come back.
    const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.indexes'], failOn: 'never', config: youngStatsAllowed,
      options: {indexesFlaggedLimit: 2, indexesDataLimit: 2}})
    const data = readingOf(snapshot, 'postgres.indexes').data as IndexesData
    expect(data.unused).toEqual(full.unused.slice(0, 2))
    expect(data.unused[1].index).toBe('"public"."Ugly Index"')
    expect(data.duplicate).toEqual(full.duplicate.slice(0, 2))
    expect(data.invalid).toEqual(full.invalid)
    expect(data.notShown).toEqual({unused: full.unused.length - 2, duplicate: full.duplicate.length - 2, invalid: 0})
    expect(data.indexCount).toBe(full.indexCount)
    expect(data.indexes).toEqual(full.indexes.slice(0, 2).map((r, i) => ({...r, sizeBytes: data.indexes[i].sizeBytes})))
    expect(data.indexesTruncated).toBe(true)
    expect(byRule(report.findings, 'database/unused-index').map((f) => f.subject).sort()).toEqual(full.unused.slice(0, 2).map((f) => f.index).sort())
    expect(byRule(report.findings, 'database/duplicate-index').map((f) => f.subject).sort()).toEqual(full.duplicate.slice(0, 2).map((f) => f.index).sort())
  })

  it('on the standby, says the counts are the standby\'s own', async () => {
    // The database and its indexes reach the replica by streaming: wait until the invalid index has arrived.
    for (let i = 0; i < 100; i++) {
      const rows = await adminQuery(REPLICA_URL, `SELECT 1 FROM pg_database WHERE datname = '${DB}'`)
      if (rows.length > 0 && (await adminQuery(replicaUrl, "SELECT 1 FROM pg_class WHERE relname = 'orders_code_uniq'")).length > 0) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const {report, snapshot} = await auditTarget(replicaUrl, {onlyProbes: ['postgres.indexes'], failOn: 'never', config: youngStatsAllowed})
    expect((readingOf(snapshot, 'postgres.indexes').data as IndexesData).role).toBe('standby')
    const ugly = byRule(report.findings, 'database/unused-index').find((f) => f.subject === '"public"."Ugly Index"')!
    expect(ugly.evidence).toMatchObject({onStandby: true, checkReplicas: true})
    expect(String(ugly.evidence.scansCountedOn)).toMatch(/this standby only/)
    expect(ugly.remedies[0]).toMatchObject({checkReplicas: true})
  })

  it('produces remedies whose SQL runs, after which the indexes are quiet', async () => {
    const {report} = await auditTarget(url, {onlyProbes: ['postgres.indexes'], failOn: 'never', config: youngStatsAllowed})
    const sqls = dropRemedies(report.findings).map((r) => String(r.sql))
    expect(sqls.length).toBe(9)
    for (const sql of sqls) await rw.query(sql)
    const left = await rw.query<{relname: string}>(
      "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' ORDER BY 1")
    expect(left.rows.map((r) => r.relname)).toEqual(['Mixed Case_pkey', 'orders_id_a_uniq', 'orders_note_key', 'orders_pkey'])

    const after = await auditTarget(url, {onlyProbes: ['postgres.indexes'], failOn: 'warning', config: youngStatsAllowed})
    expect(after.report.findings.filter((f) => f.rule.endsWith('-index'))).toEqual([])
    expect(after.report.gate.exitCode).toBe(0)
  })
})
