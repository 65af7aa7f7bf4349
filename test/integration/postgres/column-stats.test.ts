/**
 * postgres.column-stats reads one statistics row per column: a table with inheritance children has pg_stats rows of
 * its own and over its whole tree (inherited), and both would otherwise list the column twice. A partitioned table
 * is weighed by its partitions and listed whole.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {ColumnStatsData} from '../../../src/probes/postgres/column-stats.js'
import {PRIMARY_URL, adminQuery, auditTarget, readingOf, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_column_stats'
const url = withDatabase(PRIMARY_URL, DB)

describe('postgres.column-stats', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, `
      CREATE TABLE events (id int NOT NULL, tenant_id int NOT NULL);
      CREATE TABLE events_2026 () INHERITS (events);
      INSERT INTO events SELECT g, g % 100 FROM generate_series(1, 5000) g;
      INSERT INTO events_2026 SELECT g, 7 FROM generate_series(1, 5000) g;
      CREATE TABLE visits (tenant_id int NOT NULL, at date NOT NULL, PRIMARY KEY (tenant_id, at)) PARTITION BY RANGE (at);
      CREATE TABLE visits_2025 PARTITION OF visits FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
      CREATE TABLE visits_2026 PARTITION OF visits FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
      INSERT INTO visits SELECT g % 1000, date '2025-01-01' + (g / 1000) FROM generate_series(0, 599999) g;
      ANALYZE`)
  })

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('lists each column once, with the table\'s own statistics, on a parent of inheritance children', async () => {
    const {snapshot} = await auditTarget(url, {onlyProbes: ['postgres.column-stats'], failOn: 'never'})
    const reading = readingOf(snapshot, 'postgres.column-stats')
    expect(reading.status).toBe('ok')
    const events = (reading.data as ColumnStatsData).tables.find((t) => t.key === 'public.events')!
    expect(events.columns.map((c) => c.name)).toEqual(['id', 'tenant_id'])
    // Its own rows: 100 tenants, none holding more than about 1% (the tree's would show tenant 7 at over half).
    const tenant = events.columns.find((c) => c.name === 'tenant_id')!
    expect(tenant.nDistinct).toBe(100)
    expect(tenant.maxCommonFreq!).toBeLessThan(0.05)
  })

  it('weighs a partitioned table by its partitions, lists it whole (not its partitions) and samples it', async () => {
    const {snapshot} = await auditTarget(url, {onlyProbes: ['postgres.column-stats'], failOn: 'never'})
    const data = readingOf(snapshot, 'postgres.column-stats').data as ColumnStatsData
    // The largest table of the database, though a partitioned table has no storage of its own.
    expect(data.tables[0]).toMatchObject({key: 'public.visits', large: true})
    expect(data.tables.map((t) => t.key)).not.toContain('public.visits_2025')
    const visits = data.tables[0]
    expect(visits.sizeBytes).toBeGreaterThan(10 * 1024 * 1024)
    expect(visits.rows).toBeGreaterThan(500_000)
    expect(visits.columns.find((c) => c.name === 'tenant_id')?.nDistinct).toBe(1000)
    expect(visits.constraints).toEqual([expect.objectContaining({kind: 'primary', columns: ['tenant_id', 'at']})])
    const sample = visits.samples?.find((s) => s.column === 'tenant_id')
    expect(sample!.rows).toBeGreaterThan(1000)
    expect(sample!.rows).toBeLessThanOrEqual(10_000)
  }, 60_000)
})
