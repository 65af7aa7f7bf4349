import {afterEach, describe, expect, it} from 'vitest'
import type pg from 'pg'
import {quoteLiteral} from '../../../src/core/sql.js'
import type {PreparedXactsData} from '../../../src/probes/postgres/prepared-xacts.js'
import {psql} from '../../helpers/paste.js'
import {adminQuery, auditTarget, connect, PRIMARY_URL, readingOf, REPLICA_URL, waitForSql, withTempDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_prepared_xacts'
// Prepared transactions are cluster-wide: a gid of our own, with a quote in it so the remedy's literal is tested.
const GID = `cp-test ${process.pid} it's prepared`
const RULE = 'database/prepared-transaction'

async function rollbackIfPrepared(gid: string, url: string): Promise<void> {
  const [row] = await adminQuery(PRIMARY_URL, 'SELECT count(*)::int AS n FROM pg_prepared_xacts WHERE gid = $1', [gid])
  if (row.n > 0) await adminQuery(url, `ROLLBACK PREPARED ${quoteLiteral(gid)}`)
}

describe('postgres.prepared-xacts', () => {
  const held: pg.Client[] = []
  afterEach(async () => {
    await Promise.all(held.splice(0).map((c) => c.end().catch(() => {})))
  })

  it('the harness allows PREPARE TRANSACTION (scripts/test-env.sh sets max_prepared_transactions)', async () => {
    const [row] = await adminQuery(PRIMARY_URL, "SELECT current_setting('max_prepared_transactions')::int AS n")
    expect(row.n, 'run scripts/test-env.sh up: max_prepared_transactions is 0').toBeGreaterThan(0)
  })

  it('fires database/prepared-transaction on a real prepared transaction, with a paste-safe ROLLBACK PREPARED, and is quiet once it is gone', async () => {
    await withTempDatabase(DB, async (url) => {
      try {
        await adminQuery(url, 'CREATE TABLE t (id int)')
        const client = await connect(url, 'cp-test-2pc')
        held.push(client)
        await client.query('BEGIN')
        await client.query('INSERT INTO t VALUES (1)')
        await client.query(`PREPARE TRANSACTION ${quoteLiteral(GID)}`)
        // The rule warns from 1 s (check_postgres prepared_txns): wait for that state, then read it.
        await waitForSql(PRIMARY_URL, "SELECT now() - prepared > interval '1.2 seconds' AS ok FROM pg_prepared_xacts WHERE gid = $1", [GID])
        const [server] = await adminQuery(PRIMARY_URL, 'SELECT transaction::text AS xid FROM pg_prepared_xacts WHERE gid = $1', [GID])

        const {report, snapshot} = await auditTarget(url, {onlyProbes: ['postgres.prepared-xacts']})
        const reading = readingOf(snapshot, 'postgres.prepared-xacts')
        expect(reading.status).toBe('ok')
        const data = reading.data as PreparedXactsData
        expect(data.maxPreparedTransactions).toBeGreaterThan(0)
        const ours = data.preparedXacts.find((p) => p.gid === GID)!
        expect(ours).toMatchObject({database: DB, owner: 'postgres', xid: server.xid})
        expect(ours.xidAge).toBeGreaterThan(0)
        expect(ours.ageSeconds).toBeGreaterThan(1.2)

        const finding = report.findings.find((f) => f.rule === RULE && f.subject === `prepared transaction ${GID}`)
        expect(finding?.severity).toBe('warning')
        // What a diagnosis needs to name it as the cause of transaction-ID age on the same database.
        expect(finding!.evidence).toMatchObject({gid: GID, database: DB, xid: server.xid})
        expect(typeof (finding!.evidence as {xidAge: unknown}).xidAge).toBe('number')
        expect(typeof (finding!.evidence as {databaseXidAge: unknown}).databaseXidAge).toBe('number')
        expect(finding!.message).toContain(`in ${DB} (owner postgres) has been prepared for`)
        const rollback = finding!.remedies.find((r) => r.sql?.startsWith('ROLLBACK PREPARED'))!
        expect(rollback.sql).toBe(`ROLLBACK PREPARED 'cp-test ${process.pid} it''s prepared'`)
        expect(rollback.summary).toMatch(/application .* first/)
        expect(finding!.remedies.some((r) => r.sql === `COMMIT PREPARED ${quoteLiteral(GID)}`)).toBe(true)

        // Pasted as a person would, it ends exactly that transaction and nothing else.
        const paste = psql(url, `${rollback.sql};\n`)
        expect(paste.stderr).toBe('')
        expect(await adminQuery(PRIMARY_URL, 'SELECT 1 FROM pg_prepared_xacts WHERE gid = $1', [GID])).toEqual([])
        expect(await adminQuery(url, 'SELECT count(*)::int AS n FROM t')).toEqual([{n: 0}])

        const after = await auditTarget(url, {onlyProbes: ['postgres.prepared-xacts']})
        expect(readingOf(after.snapshot, 'postgres.prepared-xacts').status).toBe('ok')
        expect(after.report.findings.filter((f) => f.rule === RULE && (f.evidence as {database?: string}).database === DB)).toEqual([])
        expect(after.report.checks.some((c) => c.rule === RULE && c.status === 'ok')).toBe(true)
      } finally {
        await rollbackIfPrepared(GID, url)
      }
    })
  })

  it('says when an older snapshot, not the prepared transaction, holds the xmin horizon back', async () => {
    await withTempDatabase(DB, async (url) => {
      const gid = `${GID} behind`
      try {
        await adminQuery(url, 'CREATE TABLE t (id int)')
        // An older transaction with an ID of its own, left open: it pins the horizon before the prepared one.
        const older = await connect(url, 'cp-test-older-xact')
        held.push(older)
        await older.query('BEGIN ISOLATION LEVEL REPEATABLE READ')
        await older.query('INSERT INTO t VALUES (0)')
        const client = await connect(url, 'cp-test-2pc')
        held.push(client)
        await client.query('BEGIN')
        await client.query('INSERT INTO t VALUES (1)')
        await client.query(`PREPARE TRANSACTION ${quoteLiteral(gid)}`)

        const {snapshot} = await auditTarget(url, {onlyProbes: ['postgres.prepared-xacts']})
        const ours = (readingOf(snapshot, 'postgres.prepared-xacts').data as PreparedXactsData).preparedXacts.find((p) => p.gid === gid)!
        expect(ours.holdsXminHorizon).toBe(false)
        const metric = readingOf(snapshot, 'postgres.prepared-xacts').metrics.find((m) => m.subject === `prepared transaction ${gid}`)!
        expect(metric.evidence).toMatchObject({holdsXminHorizon: false, horizon: 'an older session or slot holds the xmin horizon further back'})

        // Once the older transaction ends, the prepared one is what pins the horizon (unless another session of
        // the shared server holds an even older one: then the server says so too).
        await older.query('ROLLBACK')
        const again = await auditTarget(url, {onlyProbes: ['postgres.prepared-xacts']})
        const data = readingOf(again.snapshot, 'postgres.prepared-xacts').data as PreparedXactsData
        const now = data.preparedXacts.find((p) => p.gid === gid)!
        const olderElsewhere = Math.max(data.otherHolders.sessionAge ?? 0, data.otherHolders.slotAge ?? 0) > now.xidAge
        expect(now.holdsXminHorizon).toBe(!olderElsewhere)
      } finally {
        await rollbackIfPrepared(gid, url)
      }
    })
  })

  it('is listed as the cause of the transaction-ID age findings on the same server, which stand alone without it', async () => {
    await withTempDatabase(DB, async (url) => {
      const gid = `${GID} diagnosis`
      // xid-wraparound fires on any age once its thresholds sit at 0 (a fresh test cluster is nowhere near 25%).
      const config = {rules: {'database/xid-wraparound': {target: '< 0%', action: '> 100%'}}}
      const probes = ['postgres.prepared-xacts', 'postgres.xid-age']
      try {
        const alone = await auditTarget(url, {onlyProbes: probes, config, failOn: 'never'})
        const ages = alone.report.findings.filter((f) => f.rule === 'database/xid-wraparound')
        expect(ages.length).toBeGreaterThan(0)
        // Prepared transactions of other tests on this shared server would be causes too: only judge without any.
        if (!alone.report.findings.some((f) => f.rule === RULE)) for (const f of ages) expect(f.causeId).toBeUndefined()

        await adminQuery(url, `CREATE TABLE t (id int); BEGIN; INSERT INTO t VALUES (1); PREPARE TRANSACTION ${quoteLiteral(gid)}`)
        await waitForSql(PRIMARY_URL, "SELECT now() - prepared > interval '1.2 seconds' AS ok FROM pg_prepared_xacts WHERE gid = $1", [gid])
        const {report} = await auditTarget(url, {onlyProbes: probes, config, failOn: 'never'})
        const cause = report.findings.find((f) => f.rule === RULE && f.subject === `prepared transaction ${gid}`)!
        expect(cause.causeId).toBeUndefined()
        const mine = report.findings.find((f) => f.rule === 'database/xid-wraparound' && f.subject === `database ${DB}`)!
        const causes = new Set(report.findings.filter((f) => f.rule === RULE).map((f) => f.id))
        expect(causes.has(mine.causeId!), `causeId ${mine.causeId}`).toBe(true)
        for (const f of report.findings.filter((x) => x.rule === 'database/xid-wraparound')) expect(causes.has(f.causeId!)).toBe(true)
        const entry = report.diagnosis.find((d) => d.cause === mine.causeId)!
        expect(entry.rule).toBe(RULE)
        expect(entry.explains).toContain(mine.id)
      } finally {
        await rollbackIfPrepared(gid, url)
      }
    })
  })

  it('reads a streaming replica too (pg_prepared_xacts, pg_stat_activity and pg_replication_slots are readable there)', async () => {
    const {snapshot} = await auditTarget(REPLICA_URL, {onlyProbes: ['postgres.prepared-xacts']})
    const reading = readingOf(snapshot, 'postgres.prepared-xacts')
    expect(reading.status).toBe('ok')
    expect((reading.data as PreparedXactsData).maxPreparedTransactions).toBeGreaterThan(0)
  })
})
