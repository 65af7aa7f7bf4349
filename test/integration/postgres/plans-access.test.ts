import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Snapshot} from '../../../src/core/types.js'
import type {PlansData} from '../../../src/probes/postgres/plans.js'
import {adminQuery, auditTarget, PRIMARY_URL, readingOf, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_plans_access'
const ROLE = 'cp_probe_plans_monitor'
const url = withDatabase(PRIMARY_URL, DB)
const asRole = url.replace('//postgres@', `//${ROLE}@`)

// A monitoring role as people set them up: pg_monitor, SELECT on one table, nothing on the rest.
const SCHEMA = `
CREATE TABLE readable (id int PRIMARY KEY, a int);
CREATE TABLE secret (id int PRIMARY KEY, a int);
CREATE SCHEMA closed;
CREATE TABLE closed.inside (id int PRIMARY KEY);
GRANT SELECT ON readable TO ${ROLE};
`
const WORKLOAD = [
  'SELECT * FROM readable WHERE a = $1',
  'WITH r AS (SELECT id FROM readable WHERE a = $1) SELECT * FROM r',
  'SELECT * FROM secret WHERE a = $1',
  'SELECT r.id FROM readable r JOIN secret s ON s.id = r.id',
  'SELECT * FROM closed.inside WHERE id = $1',
  'SELECT * FROM missing_table WHERE id = $1',
  'UPDATE readable SET a = $1 WHERE id = $2',
].map((sql) => ({sql}))

const explainTrips = (snapshot: Snapshot) => snapshot.overhead![0].commands.filter((c) => c.probe === 'postgres.plans' && c.text.startsWith('BEGIN;'))
  .reduce((n, c) => n + c.count, 0)

describe('postgres.plans for a role that may not read every table', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`)
    await adminQuery(PRIMARY_URL, `CREATE ROLE ${ROLE} LOGIN IN ROLE pg_monitor`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
  })

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${ROLE}`)
  })

  it('says why each refused statement cannot be planned without sending it, and plans the rest in one batch', async () => {
    const {snapshot} = await auditTarget(asRole, {onlyProbes: ['postgres.plans'], options: {indexAdvisor: {queries: WORKLOAD}}})
    const data = readingOf(snapshot, 'postgres.plans').data as PlansData
    const errors = data.statements.map((s) => s.error ?? 'planned')
    expect(errors).toEqual([
      'planned',
      'planned',
      `permission denied for table secret: EXPLAIN needs what the statement needs (GRANT SELECT ON secret TO ${ROLE}, or audit as a role that may)`,
      `permission denied for table secret: EXPLAIN needs what the statement needs (GRANT SELECT ON secret TO ${ROLE}, or audit as a role that may)`,
      `permission denied for schema closed: EXPLAIN needs what the statement needs (GRANT USAGE ON SCHEMA closed TO ${ROLE})`,
      'relation "missing_table" does not exist (on this connection\'s search_path)',
      `permission denied for table readable: EXPLAIN needs what the statement needs (GRANT UPDATE ON readable TO ${ROLE}, or audit as a role that may)`,
    ])
    expect(data.statements[0].cost).toBeGreaterThan(0)
    expect(explainTrips(snapshot)).toBe(1)
  })

  it('agrees with PostgreSQL: once granted, the same statements plan', async () => {
    await adminQuery(url, `GRANT SELECT ON secret TO ${ROLE}; GRANT USAGE ON SCHEMA closed TO ${ROLE}; GRANT SELECT ON closed.inside TO ${ROLE}; GRANT UPDATE ON readable TO ${ROLE}`)
    const {snapshot} = await auditTarget(asRole, {onlyProbes: ['postgres.plans'], options: {indexAdvisor: {queries: WORKLOAD}}})
    const data = readingOf(snapshot, 'postgres.plans').data as PlansData
    expect(data.statements.map((s) => s.error ?? 'planned')).toEqual([...Array(5).fill('planned'), 'relation "missing_table" does not exist (on this connection\'s search_path)', 'planned'])
    expect(explainTrips(snapshot)).toBe(1)
  })
})
