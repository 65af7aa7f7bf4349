/**
 * The read-replica advisor against real workloads driven by client loops during the audit's window: a read-heavy
 * primary saturated for the cores it is said to have (replicas proposed, with the count, the routed reads and the
 * read-back that stays on the primary), a balanced one (not proposed: its read share decides, as a lowered band
 * shows), an idle control (quiet), and the harness's streaming replica audited beside the primary (whether it
 * carries its share of the reads, and its lag).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type pg from 'pg'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {renderReport, runAudit} from '../../../src/index.js'
import {readSavedDocument} from '../../../src/core/snapshot-io.js'
import {remedyOfKind} from '../../../src/core/remedies.js'
import type {ChokepointConfig} from '../../../src/core/config.js'
import type {Finding, Report, Snapshot} from '../../../src/core/types.js'
import type {ReplicationData} from '../../../src/readings/postgres.js'
import {assessReadReplicas} from '../../../src/advisors/read-replica.js'
import type {AdvisorContext} from '../../../src/core/advisor.js'
import {round} from '../../../src/core/numbers.js'
import {evaluation} from '../../helpers/context.js'
import {PRIMARY_URL, REPLICA_URL, adminQuery, auditTarget, connect, waitForSql, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_adv_read_replica'
const url = withDatabase(PRIMARY_URL, DB)
const replicaUrl = withDatabase(REPLICA_URL, DB)
const RULE = 'database/read-replica'
const PROBES = ['postgres.statements', 'postgres.connections', 'postgres.replication', 'postgres.wal']

const SCHEMA = `
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE TABLE products (id int PRIMARY KEY, category int NOT NULL, price numeric NOT NULL, name text NOT NULL);
INSERT INTO products SELECT g, g % 50, (g % 997) / 10.0, 'product ' || g FROM generate_series(1, 20000) g;
CREATE TABLE orders (id bigserial PRIMARY KEY, product_id int NOT NULL, qty int NOT NULL, note text);
CREATE TABLE stock (product_id int PRIMARY KEY, qty int NOT NULL);
INSERT INTO stock SELECT g, 100 FROM generate_series(1, 20000) g;
ANALYZE;
`
// No index on category or price: each call scans the table, a read of a few ms that keeps a core busy.
const CATALOG_READ = 'SELECT category, count(*), avg(price) FROM products WHERE price > $1 GROUP BY category'
const PLACE_ORDER = 'INSERT INTO orders (product_id, qty, note) VALUES ($1, 1, $2) RETURNING id'
const READ_BACK = 'SELECT id, product_id, qty, note FROM orders WHERE id = $1'
const RESTOCK = 'UPDATE stock SET qty = qty + 1 WHERE product_id BETWEEN $1 AND $2'

type Loop = (client: pg.Client, i: number) => Promise<unknown>

/** Runs each loop on its own connection, without pause, until the returned stop() is called. */
async function drive(loops: Loop[], onUrl = url): Promise<() => Promise<void>> {
  const clients = await Promise.all(loops.map((_, i) => connect(onUrl, `cp-read-replica-${i}`)))
  let stop = false
  const running = loops.map(async (loop, i) => {
    for (let n = 0; !stop; n++) await loop(clients[i], n)
  })
  return async () => {
    stop = true
    await Promise.all(running)
    await Promise.all(clients.map((c) => c.end().catch(() => {})))
  }
}

const reader: Loop = (c, n) => c.query(CATALOG_READ, [n % 50])
/** A request that writes an order and reads it back inside its transaction: the read must stay on the primary. */
const orderer: Loop = async (c, n) => {
  await c.query('BEGIN')
  const {rows} = await c.query(PLACE_ORDER, [1 + (n % 20000), `order ${n}`])
  await c.query(READ_BACK, [rows[0].id])
  await c.query('COMMIT')
}
/** Restocks its own slice of the products (slices do not overlap, so restockers never deadlock). */
const restocker = (slice: number): Loop => (c, n) => c.query(RESTOCK, [slice * 5000 + (n % 5) * 1000 + 1, slice * 5000 + (n % 5) * 1000 + 1000])

/** The target options (the server's cores) and the rule's heuristic overrides a test audits with. */
function config(readReplica: Record<string, unknown>, heuristic: Record<string, number> = {}): ChokepointConfig {
  return {options: {postgres: {readReplica}} as ChokepointConfig['options'], rules: {[RULE]: {heuristic}}}
}
/** pg_stat_wal counts the whole cluster's WAL, and other tests write on this server too: their WAL must not decide. */
const ANY_WAL = {highWalBytesPerSecond: 1e12}

async function auditWhile(loops: Loop[], cfg: ChokepointConfig): Promise<{report: Report; snapshot: Snapshot}> {
  await adminQuery(url, 'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)')
  const stop = await drive(loops)
  try {
    // The loops' first calls are counted before the window opens, so the window sees the steady state.
    await waitForSql(url, `SELECT coalesce(sum(calls), 0) > 20 AS ok FROM pg_stat_statements WHERE query LIKE 'SELECT category%'`, [], 10_000)
    return await auditTarget(url, {onlyProbes: PROBES, windowSeconds: 3, failOn: 'never', config: cfg})
  } finally {
    await stop()
  }
}

/** The context the audit gives the advisor, rebuilt from a snapshot, to read its assessment when it raises nothing. */
function advisorContext(snapshot: Snapshot, cfg: ChokepointConfig): AdvisorContext {
  const target = snapshot.targets[0]
  return {snapshot, target, readings: snapshot.readings.filter((r) => r.target === target.name), live: new Map(),
    rules: evaluation(cfg).rulesFor, options: cfg.options?.postgres ?? {}, log: () => {}}
}

const replicaFindings = (report: Report): Finding[] => report.findings.filter((f) => f.rule === RULE)
const queryidOf = async (text: string) => String((await adminQuery(url, `SELECT queryid::text AS id FROM pg_stat_statements WHERE query = $1 AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`, [text]))[0]?.id)

describe('read-replica advisor', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    await adminQuery(url, SCHEMA)
  }, 60_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('proposes replicas for a read-heavy saturated primary: how many, which reads to route, which stay', async () => {
    // Other tests' WAL must not decide this one (the WAL gate has its own test below).
    const {report, snapshot} = await auditWhile([reader, reader, reader, orderer], config({cpuCores: 1}, ANY_WAL))
    const [finding] = replicaFindings(report)
    expect(finding?.severity).toBe('warning')
    const e = finding.evidence as any
    expect(e.readShare).toBeGreaterThanOrEqual(0.7)
    expect(e.load.saturated).toBe(true)
    expect(e.scaling).toMatchObject({path: 'read-replicas', warranted: true})
    expect(e.scaling.share).toBeGreaterThan(0.5)
    // The path verdict weighs it (src/core/verdict.ts reads evidence.scaling).
    expect(report.verdict?.considered).toContainEqual(expect.objectContaining({path: 'read-replicas', warranted: true, finding: finding.id}))
    // Nothing earlier in the order is called for here (no what-if plans, no cache candidates read): replicas are the path.
    expect(report.verdict).toMatchObject({path: 'read-replicas', target: finding.target})
    const remedy = remedyOfKind(finding.remedies, 'replica')!
    const catalog = await queryidOf(CATALOG_READ)
    const readBack = await queryidOf(READ_BACK)
    expect(remedy.routedStatements!.map((s) => s.queryid)).toContain(catalog)
    expect(remedy.routedStatements!.map((s) => s.queryid)).not.toContain(readBack)
    // chokepoint's own probe queries read only statistics views: monitoring, never routed.
    expect(remedy.routedStatements!.every((s) => !/pg_stat|pg_extension/.test(s.query))).toBe(true)
    expect(e.msByKind.catalog).toBeGreaterThan(0)
    const kept = remedy.stayOnPrimary!.find((s) => s.queryid === readBack)
    expect(kept?.why).toMatch(/same role writes/)
    // The count follows the arithmetic from the measured load: routed load less the primary's room, per replica at 60%.
    const u = e.load.utilisation as number
    const routedLoad = u * e.scaling.share
    const expected = Math.max(1, Math.ceil((routedLoad - Math.max(0, 0.6 - (u - routedLoad))) / 0.6 - 1e-9)) - e.replicas.existing
    expect(remedy.existingReplicas).toBe(e.replicas.existing)
    expect(remedy.count).toBe(Math.max(0, expected))
    expect(remedy.lagToleranceSeconds).toBe(5)
    expect(remedy.targetUtilisation).toBe(0.6)
    expect(remedy.arithmetic).toMatch(/replica\(s\) in all/)
    expect(remedy.summary).toMatch(/max_standby_streaming_delay/)
    // The harness's standby streams from this primary: pg_stat_replication shows it, so it counts as existing.
    expect(e.replicas.streaming).toBeGreaterThanOrEqual(1)
    expect(e.wal.bytesPerSecond).toBeGreaterThan(0)
    // The report with the remedy's structured fields is valid against its schema, and every format renders it.
    const dir = mkdtempSync(join(tmpdir(), 'cp-read-replica-'))
    try {
      writeFileSync(join(dir, 'report.json'), await renderReport(report, 'json'))
      expect(readSavedDocument(join(dir, 'report.json')).kind).toBe('report')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    for (const format of ['table', 'markdown', 'html', 'sarif', 'junit']) expect(await renderReport(report, format)).toContain('read replica')

    // The same measured workload, judged again with one input changed (the snapshot is the seam: design.md).
    const judged = async (change: (copy: Snapshot) => void, cfg = config({cpuCores: 1}, ANY_WAL)) => {
      const copy = structuredClone(snapshot)
      change(copy)
      return (await assessReadReplicas(advisorContext(copy, cfg)))!.evidence
    }
    const replication = (copy: Snapshot) => copy.readings.find((r) => r.probe === 'postgres.replication')!.data as ReplicationData
    // The standby 12 s behind: past the 5 s the routed reads tolerate, no replica is proposed, and it says why.
    const lagging = await judged((copy) => {
      replication(copy).standbys![0].replayLag = 12
    })
    expect(lagging.lag.measuredSeconds).toBe(12)
    expect(lagging.scaling.warranted).toBe(false)
    expect(lagging.scaling.wouldChange).toMatch(/standby lag back within 5 s/)
    // Without cores or a CPU reading, saturation is not measured: not warranted; PgBouncer clients waiting for this
    // database are the saturation measured instead.
    const unmeasured = await judged(() => {}, config({}, ANY_WAL))
    expect(unmeasured.load.saturated).toBe(false)
    expect(unmeasured.scaling.warranted).toBe(false)
    const withQueue = (maxWaitSeconds: number) => judged((copy) => {
      const pool = {database: DB, user: 'app', serverHost: '127.0.0.1', serverPort: 25432, poolMode: 'transaction', clActive: 5, clWaiting: 3,
        svActive: 5, svIdle: 0, svUsed: 0, svTested: 0, svLogin: 0, maxWaitSeconds, poolSize: 5, reservePool: 0, limit: 5, limitedBy: 'pool_size'}
      copy.targets.push({name: 'bouncer', kind: 'pgbouncer', url: 'postgres://stats@127.0.0.1:26432/pgbouncer', status: 'ok'} as Snapshot['targets'][number])
      copy.readings.push({target: 'bouncer', probe: 'pgbouncer.pools', takenAt: snapshot.capturedAt, durationMs: 1, status: 'ok', data: {pools: [pool]}, metrics: []})
    }, config({}, ANY_WAL))
    // Three clients queued for 0.4 s is a burst, not a primary that cannot keep up: pool/max-wait's 1 s decides.
    const burst = await withQueue(0.4)
    expect(burst.load).toMatchObject({saturated: false, clientsWaiting: 3})
    expect(burst.scaling.warranted).toBe(false)
    const queued = await withQueue(2.5)
    expect(queued.load).toMatchObject({saturated: true, clientsWaiting: 3})
    expect(queued.load.basis).toMatch(/oldest for 2.5 s \(pool\/max-wait outside its target <= 1s\)/)
    expect(queued.scaling.warranted).toBe(true)
  }, 60_000)

  it('proposes none when the WAL rate says the primary is write-heavy, and says it points toward distributed SQL', async () => {
    // The read-heavy, saturated workload of the first test, with a WAL threshold its own order writes exceed.
    const cfg = config({cpuCores: 1}, {highWalBytesPerSecond: 1})
    const {report, snapshot} = await auditWhile([reader, reader, reader, orderer], cfg)
    expect(replicaFindings(report)).toEqual([])
    const {evidence} = (await assessReadReplicas(advisorContext(snapshot, cfg)))!
    expect(evidence.readShare).toBeGreaterThanOrEqual(0.7)
    expect(evidence.load.saturated).toBe(true)
    expect(evidence.wal).toMatchObject({writeHeavy: true})
    expect(evidence.scaling.warranted).toBe(false)
    expect(evidence.scaling.decidedBy).toMatch(/distributed SQL/)
    expect(evidence.scaling.wouldChange).toMatch(/WAL rate below/)
  }, 60_000)

  it('proposes none for a balanced workload on the same saturated primary: the read share decides', async () => {
    const cfg = config({cpuCores: 1})
    const {report, snapshot} = await auditWhile([reader, restocker(0), restocker(1), restocker(2)], cfg)
    expect(replicaFindings(report)).toEqual([])
    // Judged, not skipped: the primary is saturated and the read share alone rules replicas out.
    const assessment = (await assessReadReplicas(advisorContext(snapshot, cfg)))!
    expect(assessment.evidence.load.saturated).toBe(true)
    expect(assessment.readShare).toBeLessThan(0.7)
    expect(assessment.evidence.readShare).toBe(round(assessment.readShare, 4))
    expect(assessment.evidence.msByKind.update).toBeGreaterThan(0)
    expect(assessment.evidence.scaling).toMatchObject({path: 'read-replicas', warranted: false})
    expect(assessment.evidence.scaling.wouldChange).toMatch(/reads reaching 70%/)
  }, 90_000)

  it('stays quiet on a healthy, lightly loaded primary', async () => {
    const idle: Loop = async (c, n) => {
      await c.query(CATALOG_READ, [n % 50])
      await new Promise((r) => setTimeout(r, 200))
    }
    await adminQuery(url, 'SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)')
    const stop = await drive([idle])
    try {
      const {report} = await auditTarget(url, {onlyProbes: PROBES, windowSeconds: 3, failOn: 'never', config: config({cpuCores: 2})})
      expect(replicaFindings(report)).toEqual([])
      // And with no cores configured (saturation not measured) it stays quiet too.
      const unmeasured = await auditTarget(url, {onlyProbes: PROBES, windowSeconds: 1, failOn: 'never'})
      expect(replicaFindings(unmeasured.report)).toEqual([])
    } finally {
      await stop()
    }
  }, 60_000)

  it('says whether an existing replica carries its share of the reads, and its lag', async () => {
    await waitForSql(replicaUrl, `SELECT count(*) = 20000 AS ok FROM products`, [], 20_000)
    const onPrimary = await drive([reader])
    const onReplica = await drive([reader, reader], replicaUrl)
    try {
      const {report, snapshot} = await runAudit({
        targets: [{name: 'primary', kind: 'postgres', url}, {name: 'replica', kind: 'postgres', url: replicaUrl}],
        windowSeconds: 3, failOn: 'never',
        config: {...config({cpuCores: 64}), skipProbes: ['postgres.activity', 'postgres.locks', 'postgres.cache-hit', 'postgres.tables',
          'postgres.xid-age', 'postgres.prepared-xacts', 'postgres.indexes', 'postgres.plans']},
      })
      const wal = snapshot.readings.filter((r) => r.probe === 'postgres.wal').map((r) => r.data as any)
      expect(wal.map((w) => w.inRecovery).sort()).toEqual([false, true])
      // Paired by the cluster identity the driver records for each target (a physical standby has its primary's).
      const [primaryId, replicaId] = ['primary', 'replica'].map((name) => snapshot.targets.find((t) => t.name === name)?.facts?.systemIdentifier)
      expect(primaryId).toMatch(/^\d+$/)
      expect(replicaId).toBe(primaryId)
      const findings = replicaFindings(report)
      expect(findings.map((f) => f.target)).toEqual(['primary'])
      const [finding] = findings
      expect(finding.severity).toBe('info')
      const e = finding.evidence as any
      expect(e.replicas.audited).toHaveLength(1)
      expect(e.replicas.audited[0].target).toBe('replica')
      // Two readers on the replica against one on the primary: it carries well over an even share.
      expect(e.replicas.share).toBeGreaterThan(0.5)
      expect(e.replicas.carrying).toBe(true)
      expect(e.lag.measuredSeconds).toBeLessThanOrEqual(5)
      expect(e.maxStandbyStreamingDelayMs).toBe(30_000)
      expect(e.scaling.warranted).toBe(false)
      expect(finding.message).toMatch(/carry \d+(\.\d)?% of the read time/)
    } finally {
      await onPrimary()
      await onReplica()
    }
  }, 60_000)
})
