/**
 * Whether audited replicas carry their share of the reads compares rates, not totals: at window 0 the primary's
 * pg_stat_statements counts since its reset a day ago and the replica's since its own ten seconds ago. The
 * snapshot is built in memory (as bench/read-replica does): the advisor reads only the snapshot.
 */
import {beforeAll, describe, expect, it} from 'vitest'
import {readReplicaAdvisor} from '../../../src/advisors/read-replica.js'
import {builtinRegistry} from '../../../src/builtin.js'
import {rulesByTarget} from '../../../src/core/audit.js'
import type {Reading, Snapshot} from '../../../src/core/types.js'
import {ensureParser} from '../../../src/knowledge/postgres/workload.js'
import type {StatementRow, StatementsData} from '../../../src/readings/postgres.js'

const CAPTURED = '2026-12-01T12:00:00.000Z'
const before = (seconds: number) => new Date(Date.parse(CAPTURED) - seconds * 1000).toISOString()

function statements(totalMs: number, calls: number, since: string): StatementsData {
  const row: StatementRow = {queryid: '11', query: 'SELECT id, name FROM products WHERE id = $1', calls, totalMs, meanMs: totalMs / calls,
    stddevMs: 0, maxMs: 2, rows: calls, sharedBlksHit: 0, sharedBlksRead: 0, sharedBlksDirtied: 0, sharedBlksWritten: 0,
    tempBlksRead: 0, tempBlksWritten: 0, share: 1, toplevel: true, database: 'shop', user: 'app'} as StatementRow
  return {database: 'shop', windowSeconds: 0, since, statements: [row], statementsActive: 1, totalMs, hiddenStatements: 0, deallocations: 0} as StatementsData
}

function snapshotOf(primarySince: number, primaryMs: number, replicaSince: number, replicaMs: number): Snapshot {
  const reading = (target: string, probe: string, data: unknown): Reading =>
    ({target, probe, status: 'ok', data, metrics: [], takenAt: CAPTURED, durationMs: 1} as Reading)
  const wal = {inRecovery: false, walBytesPerSecond: 1e4, walRecordsPerSecond: 10, walFpiPerSecond: 0, walBytes: 1e5, seconds: 10,
    basis: 'since-reset', maxStandbyStreamingDelayMs: 30_000, hotStandbyFeedback: false}
  return {
    schemaVersion: 1, capturedAt: CAPTURED, windowSeconds: 0,
    targets: [
      {name: 'primary', kind: 'postgres', url: 'postgres://db-1.example/shop', status: 'ok', facts: {role: 'primary', systemIdentifier: '7311'}},
      {name: 'replica', kind: 'postgres', url: 'postgres://db-2.example/shop', status: 'ok', facts: {role: 'standby', systemIdentifier: '7311'}},
    ],
    readings: [
      reading('primary', 'postgres.statements', statements(primaryMs, 1000, before(primarySince))),
      reading('primary', 'postgres.replication', {role: 'primary', standbys: [], slots: []}),
      reading('primary', 'postgres.wal', wal),
      reading('replica', 'postgres.statements', statements(replicaMs, 1000, before(replicaSince))),
      reading('replica', 'postgres.replication', {role: 'standby', standby: {lagSeconds: 0.2, senderHost: 'db-1.example'}}),
      reading('replica', 'postgres.wal', {...wal, inRecovery: true}),
    ],
  } as unknown as Snapshot
}

async function replicaEvidence(snapshot: Snapshot) {
  const rules = rulesByTarget({}, builtinRegistry())
  const target = snapshot.targets[0]
  const findings = await readReplicaAdvisor.advise({snapshot, target, readings: snapshot.readings.filter((r) => r.target === target.name),
    live: new Map(), rules, options: {}, log: () => {}} as never)
  expect(findings).toHaveLength(1)
  return findings[0].evidence as {replicas: {share: number | null; carrying: boolean | null; audited: Array<{readMsPerSecond: number | null}>}}
}

describe('read-replica: replicas carrying their share, in rates', () => {
  beforeAll(async () => {
    await ensureParser()
  })

  it('a replica reset ten seconds ago reading 20 ms/s carries two thirds against a primary reading 10 ms/s over a day', async () => {
    const e = await replicaEvidence(snapshotOf(86_400, 864_000, 10, 200))
    expect(e.replicas.audited[0].readMsPerSecond).toBe(20)
    expect(e.replicas.share).toBeCloseTo(2 / 3, 3)
    expect(e.replicas.carrying).toBe(true)
  })

  it('the same totals over equal periods: the replica carries almost nothing', async () => {
    const e = await replicaEvidence(snapshotOf(86_400, 864_000, 86_400, 200))
    expect(e.replicas.share!).toBeLessThan(0.001)
    expect(e.replicas.carrying).toBe(false)
  })
})
