import {describe, expect, it} from 'vitest'
import type {Snapshot} from '../../../src/core/types.js'
import {auditTarget, connect, withTempDatabase} from '../../helpers/pg.js'

/** Round trips of one audit, by probe (the CommandLog's overhead entry). */
function roundTripsByProbe(snapshot: Snapshot): Record<string, number> {
  const out: Record<string, number> = {}
  for (const c of snapshot.overhead![0].commands) out[c.probe] = (out[c.probe] ?? 0) + c.count
  return out
}

/**
 * Tables bench_t<from>..<to> with a primary key and two secondary indexes each, and two distinct statements per
 * table in pg_stat_statements. The DDL is not tracked: hundreds of distinct CREATE entries would only evict other
 * databases' statements on the shared test server.
 */
async function addTables(url: string, from: number, to: number): Promise<void> {
  const client = await connect(url)
  try {
    await client.query("SET pg_stat_statements.track = 'none'")
    await client.query(`DO $$ DECLARE t text; BEGIN FOR i IN ${from}..${to} LOOP
      t := 'bench_t' || lpad(i::text, 4, '0');
      EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, c text NOT NULL)', t);
      EXECUTE format('CREATE INDEX ON %I (a)', t);
      EXECUTE format('CREATE INDEX ON %I (b, c)', t);
      EXECUTE format('INSERT INTO %I SELECT g, g %% 7, g %% 13, md5(g::text) FROM generate_series(1, 20) g', t);
    END LOOP; END $$`)
    await client.query('ANALYZE')
    await client.query("SET pg_stat_statements.track = 'top'")
    const statements: string[] = []
    for (let i = from; i <= to; i++) {
      const t = `bench_t${String(i).padStart(4, '0')}`
      statements.push(`SELECT id, c FROM ${t} WHERE a = 3`, `SELECT count(*) FROM ${t} WHERE b BETWEEN 2 AND 5`)
    }
    await client.query(statements.join(';\n'))
  } finally {
    await client.end()
  }
}

describe('an audit at scale', () => {
  it('makes the same round trips, probe by probe, on 60 tables and on 600 (past every cap)', async () => {
    await withTempDatabase('cp_probe_scale', async (url) => {
      const client = await connect(url)
      await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').finally(() => client.end())
      // 60 tables, 120 statements: already past the plans probe's cap of 100 statements.
      await addTables(url, 1, 60)
      const small = await auditTarget(url, {failOn: 'never'})
      await addTables(url, 61, 600)
      const large = await auditTarget(url, {failOn: 'never'})

      expect(large.snapshot.readings.filter((r) => r.status !== 'ok').map((r) => `${r.probe}: ${r.reason}`)).toEqual([])
      const indexes = large.snapshot.readings.find((r) => r.probe === 'postgres.indexes')!.data as {indexCount: number; unused: unknown[]; notShown: {unused: number}}
      expect(indexes.indexCount).toBeGreaterThanOrEqual(1800)
      // Never-scanned indexes past the cap are counted, not listed.
      expect(indexes.unused).toHaveLength(100)
      expect(indexes.notShown.unused).toBeGreaterThan(0)
      expect(roundTripsByProbe(large.snapshot)).toEqual(roundTripsByProbe(small.snapshot))
      expect(large.snapshot.overhead![0].roundTrips).toBe(small.snapshot.overhead![0].roundTrips)
    })
  }, 120_000)
})
