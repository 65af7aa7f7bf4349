/**
 * postgres.wal: the WAL written over the window (pg_stat_wal deltas), since the view's reset at window 0, a standby's
 * recovery state, and the standby conflict settings.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type pg from 'pg'
import type {WalData} from '../../../src/probes/postgres/wal.js'
import {PRIMARY_URL, REPLICA_URL, adminQuery, auditTarget, connect, readingOf, withDatabase} from '../../helpers/pg.js'

const DB = 'cp_probe_wal'
const url = withDatabase(PRIMARY_URL, DB)
const walOf = async (target: string, windowSeconds: number): Promise<WalData> => {
  const {snapshot} = await auditTarget(target, {onlyProbes: ['postgres.wal'], windowSeconds, failOn: 'never'})
  const reading = readingOf(snapshot, 'postgres.wal')
  expect(reading.status).toBe('ok')
  return reading.data as WalData
}

describe('postgres.wal', () => {
  let writer: pg.Client

  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${DB}`)
    writer = await connect(url)
    await writer.query('CREATE TABLE filler (id int, payload text)')
  })

  afterAll(async () => {
    await writer?.end().catch(() => {})
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`)
  })

  it('measures the WAL written during the window, at least what the window\'s writes took', async () => {
    let stop = false
    let written = 0
    const loop = (async () => {
      while (!stop) {
        // 2,000 rows of 500 bytes: about 1 MB of heap, all of it WAL-logged.
        await writer.query("INSERT INTO filler SELECT g, repeat('x', 500) FROM generate_series(1, 2000) g")
        written += 2000 * 500
      }
    })()
    let data: WalData
    try {
      data = await walOf(url, 2)
    } finally {
      stop = true
      await loop
    }
    expect(data.basis).toBe('window')
    expect(data.seconds).toBe(2)
    expect(data.inRecovery).toBe(false)
    // Rows written while the window was open; the loop ran longer than the window, so compare with a part of it.
    expect(data.walBytes!).toBeGreaterThan(written / 4)
    expect(data.walBytesPerSecond).toBeCloseTo(data.walBytes! / 2, 0)
    expect(data.walRecordsPerSecond!).toBeGreaterThan(0)
    expect(data.maxStandbyStreamingDelayMs).toBe(30_000)
    expect(data.hotStandbyFeedback).toBe(false)
  })

  it('reads the counters since the view\'s reset at window 0', async () => {
    const data = await walOf(url, 0)
    expect(data.basis).toBe('since-reset')
    expect(data.seconds!).toBeGreaterThan(0)
    expect(data.walBytes!).toBeGreaterThan(0)
  })

  it('reads a standby\'s recovery state and conflict settings', async () => {
    const standby = await walOf(REPLICA_URL, 0)
    expect(standby.inRecovery).toBe(true)
    expect(standby.maxStandbyStreamingDelayMs).toBe(30_000)
  })
})
