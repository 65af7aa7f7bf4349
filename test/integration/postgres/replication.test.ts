import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type pg from 'pg'
import type {Finding} from '../../../src/core/types.js'
import type {ReplicationData} from '../../../src/probes/postgres/replication.js'
import {PRIMARY_URL, REPLICA_URL, adminQuery, auditTarget, connect, readingOf, withDatabase} from '../../helpers/pg.js'

/**
 * The headline replication test: replay is paused on the test replica while WAL is generated on the primary,
 * so the lag is real, then resumed. Replay is ALWAYS resumed (finally and afterAll): a paused replica would break
 * every later test that reads from it.
 */
const DB = 'cp_probe_replication'
const STANDBY = 'chokepoint_test_replica'
const SLOT = 'cp_probe_replication_idle_slot'
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const lagFindings = (findings: Finding[]) => findings.filter((f) => f.rule === 'replication/lag')

describe('postgres.replication', () => {
  let primary: pg.Client
  let replica: pg.Client

  const resumeReplay = () => replica.query('SELECT pg_wal_replay_resume()').catch(() => {})
  const writeWal = () => primary.query("INSERT INTO wal_filler SELECT g, repeat('x', 200) FROM generate_series(1, 500) g")

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    primary = await connect(withDatabase(PRIMARY_URL, DB))
    await primary.query('CREATE TABLE wal_filler (id int, payload text)')
    // A plain superuser client: PgSession is read-only, and pausing replay is an action, not a probe.
    replica = await connect(REPLICA_URL)
    await resumeReplay()
  })

  afterAll(async () => {
    if (replica) {
      await resumeReplay()
      await replica.end().catch(() => {})
    }
    await adminQuery(PRIMARY_URL, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${SLOT}'`).catch(() => {})
    await primary?.end().catch(() => {})
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('with replay paused and WAL flowing, both sides report a critical replay lag and the gate fails', async () => {
    await replica.query('SELECT pg_wal_replay_pause()')
    try {
      // Generate WAL until both sides have seen more than the 5 s action threshold (bounded; not a timing assertion).
      let primaryLag = 0
      let standbyLag = 0
      for (let i = 0; i < 120 && (primaryLag <= 6 || standbyLag <= 6); i++) {
        await writeWal()
        await sleep(250)
        const [p] = (await primary.query('SELECT extract(epoch FROM replay_lag)::float8 AS lag FROM pg_stat_replication WHERE application_name = $1', [STANDBY])).rows
        const [s] = (await replica.query(`SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                                                  ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS lag`)).rows
        primaryLag = Number(p?.lag ?? 0)
        standbyLag = Number(s?.lag ?? 0)
      }
      expect(primaryLag).toBeGreaterThan(6)
      expect(standbyLag).toBeGreaterThan(6)

      const onPrimary = await auditTarget(PRIMARY_URL, {onlyProbes: ['postgres.replication'], failOn: 'critical'})
      expect(readingOf(onPrimary.snapshot, 'postgres.replication').status).toBe('ok')
      const [fromPrimary] = lagFindings(onPrimary.report.findings).filter((f) => f.subject.includes(STANDBY))
      expect(fromPrimary).toBeDefined()
      expect(fromPrimary.severity).toBe('critical')
      expect(fromPrimary.value!).toBeGreaterThan(5)
      expect(fromPrimary.evidence).toMatchObject({stage: 'replay', stageIsReplay: 1, state: 'streaming'})
      expect(Number(fromPrimary.evidence.byteLag)).toBeGreaterThan(0)
      expect(Number(fromPrimary.evidence.writeLag)).toBeLessThan(Number(fromPrimary.evidence.replayLag))
      expect(fromPrimary.message).toMatch(/the replay stage lags/)
      expect(fromPrimary.remedies.map((r) => r.summary).join(' ')).toMatch(/pg_is_wal_replay_paused/)
      expect(onPrimary.report.gate).toMatchObject({passed: false, exitCode: 1})

      const onStandby = await auditTarget(REPLICA_URL, {onlyProbes: ['postgres.replication'], failOn: 'critical'})
      const [fromStandby] = lagFindings(onStandby.report.findings)
      expect(fromStandby).toMatchObject({subject: 'this standby', severity: 'critical'})
      expect(fromStandby.evidence).toMatchObject({stage: 'replay', stageIsReplay: 1, replayPaused: true, receiverStatus: 'streaming'})
      expect(fromStandby.message).toMatch(/^this standby is .* behind the primary; the replay stage lags/)
      expect(fromStandby.remedies).toContainEqual(expect.objectContaining({sql: 'SELECT pg_wal_replay_resume();'}))
      expect(onStandby.report.gate.exitCode).toBe(1)
    } finally {
      await resumeReplay()
    }
  })

  it('after resuming and catching up, the primary reports the standby as caught up (quiet)', async () => {
    await resumeReplay()
    // A little WAL after the resume refreshes the primary's lag samples with small values (bounded wait).
    let caughtUp = false
    for (let i = 0; i < 120 && !caughtUp; i++) {
      await writeWal()
      await sleep(250)
      const [p] = (await primary.query(`SELECT coalesce(extract(epoch FROM replay_lag), 0)::float8 AS lag,
                                                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS bytes
                                           FROM pg_stat_replication WHERE application_name = $1`, [STANDBY])).rows
      caughtUp = p !== undefined && Number(p.lag) < 0.5
    }
    expect(caughtUp).toBe(true)

    const onPrimary = await auditTarget(PRIMARY_URL, {onlyProbes: ['postgres.replication'], failOn: 'warning'})
    const metric = readingOf(onPrimary.snapshot, 'postgres.replication').metrics
      .find((m) => m.name === 'replication.lag_seconds' && m.subject?.includes(STANDBY))
    expect(metric?.value).toBeLessThan(1)
    expect(lagFindings(onPrimary.report.findings)).toEqual([])
  })

  it('on a quiet primary the standby reports 0, not the growing age of its last replayed transaction', async () => {
    // Wait for a moment where the standby has replayed everything and its last replayed commit is a while back:
    // the naive now() - pg_last_xact_replay_timestamp() would report that age as lag. Bounded; other test files may write.
    let data: ReplicationData | undefined
    let findings: Finding[] = []
    for (let i = 0; i < 60; i++) {
      const {report, snapshot} = await auditTarget(REPLICA_URL, {onlyProbes: ['postgres.replication'], failOn: 'warning'})
      data = readingOf(snapshot, 'postgres.replication').data as ReplicationData
      findings = report.findings
      if (data.standby!.caughtUp && (data.standby!.secondsSinceLastReplay ?? 0) > 2) break
      await sleep(500)
    }
    expect(data!.role).toBe('standby')
    expect(data!.standby!.replayPaused).toBe(false)
    expect(data!.standby!.caughtUp).toBe(true)
    expect(data!.standby!.secondsSinceLastReplay!).toBeGreaterThan(2)
    expect(data!.standby!.lagSeconds).toBe(0)
    expect(lagFindings(findings)).toEqual([])
  })

  it('flags an inactive slot that retains WAL, and not the active one', async () => {
    await primary.query('SELECT pg_create_physical_replication_slot($1, true)', [SLOT])
    try {
      for (let i = 0; i < 4; i++) await writeWal()
      await primary.query('SELECT pg_switch_wal()')
      // The default band is < 1GB: a test cannot retain that much, so the threshold is lowered the way a user would.
      const config = {rules: {'replication/inactive-slot': {target: '< 1kB', action: '> 10GB'}}}
      const {report} = await auditTarget(PRIMARY_URL, {onlyProbes: ['postgres.replication'], failOn: 'never', config})
      const slots = report.findings.filter((f) => f.rule === 'replication/inactive-slot')
      expect(slots.map((f) => f.subject)).toContain(`slot ${SLOT}`)
      expect(slots.map((f) => f.subject)).not.toContain(`slot ${STANDBY}`)
      const mine = slots.find((f) => f.subject === `slot ${SLOT}`)!
      expect(mine.severity).toBe('warning')
      expect(mine.remedies[0]).toMatchObject({kind: 'config', slot: SLOT, sql: `SELECT pg_drop_replication_slot('${SLOT}');`})
      // The remedy's SQL runs as proposed.
      await primary.query(String(mine.remedies[0].sql))
      const after = await auditTarget(PRIMARY_URL, {onlyProbes: ['postgres.replication'], failOn: 'never', config})
      expect(after.report.findings.filter((f) => f.subject === `slot ${SLOT}`)).toEqual([])
    } finally {
      await adminQuery(PRIMARY_URL, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${SLOT}'`)
    }
  })
})
