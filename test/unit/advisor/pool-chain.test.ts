import {describe, expect, it} from 'vitest'
import {planChain, type AppService, type BouncerSide, type PostgresSide} from '../../../src/advisors/pool-chain.js'
import type {PgBouncerPool} from '../../../src/probes/pgbouncer/pools.js'

const pool = (over: Partial<PgBouncerPool> = {}): PgBouncerPool => ({
  database: 'appdb', user: 'app', serverHost: '10.0.0.5', serverPort: 5432, poolMode: 'transaction',
  clActive: 0, clWaiting: 0, svActive: 0, svIdle: 0, svUsed: 0, svTested: 0, svLogin: 0, maxWaitSeconds: 0,
  poolSize: 20, reservePool: 0, limit: 20, limitedBy: 'pool_size', ...over,
})
const bouncer = (pools: PgBouncerPool[], maxClientConn = 1000): BouncerSide => ({
  target: 'bouncer', pools,
  serverMax: pools.reduce((s, p) => s + p.limit + p.reservePool, 0),
  poolTotal: pools.reduce((s, p) => s + p.limit, 0),
  opened: pools.reduce((s, p) => s + p.svActive + p.svIdle + p.svUsed + p.svTested + p.svLogin, 0),
  waiting: pools.reduce((s, p) => s + p.clWaiting, 0),
  maxWaitSeconds: 0,
  maxClientConn,
})
const app = (instances: number, poolSize: number, waiting = 0): AppService => ({target: 'prom', service: 'api', pool: 'main', instances, poolSize, waiting})
const postgres = (maxConnections: number, reserved: number, used: number): PostgresSide => ({target: 'pg', maxConnections, reserved, usable: maxConnections - reserved, used})

describe('planChain arithmetic', () => {
  it('PostgreSQL is the limit: PgBouncer pool capped at usable minus other clients, app pools shrink to fit', () => {
    // 20 - 3 reserved = 17 usable; 10 servers open through PgBouncer of 15 used -> 5 held by other clients -> 12 for PgBouncer.
    const plan = planChain([app(3, 10)], bouncer([pool({svActive: 4, svIdle: 6})]), postgres(20, 3, 15))!
    expect(plan.remedy).toMatchObject({instances: 3, appPoolSize: 4, pgbouncerPoolSize: 12, maxConnections: 20, reserved: 3, usable: 17, otherConnections: 5, waitSits: 'postgres'})
    expect(plan.evidence.breaks).toEqual([
      '3 instances x 10 app pool = 30 > PgBouncer pool 20',
      'PgBouncer may open 20 > 12 that PostgreSQL admits (17 usable - 5 held by other clients)',
    ])
    expect(plan.severity).toBe('warning')
  })

  it('the reserve pool counts against PostgreSQL', () => {
    const plan = planChain([app(2, 5)], bouncer([pool({limit: 10, poolSize: 10, reservePool: 5})]), postgres(15, 3, 0))!
    // 10 + 5 reserve = 15 > 12 usable: pool_size becomes 12 - 5 = 7; 2 x 5 = 10 > 7 -> app pool 3.
    expect(plan.remedy).toMatchObject({pgbouncerPoolSize: 7, appPoolSize: 3, waitSits: 'postgres'})
  })

  it('waiting only in the app pools, chain within budget: the wait sits in the app pool', () => {
    const plan = planChain([app(2, 5, 7)], bouncer([pool()]), postgres(100, 3, 10))!
    expect(plan.waitSits).toBe('app pool')
    expect(plan.severity).toBe('warning')
    expect(plan.remedy).toMatchObject({appPoolSize: 5, pgbouncerPoolSize: 20})
  })

  it('no PgBouncer: app instances straight against max_connections', () => {
    const plan = planChain([app(12, 10)], undefined, postgres(100, 3, 40))!
    expect(plan.remedy).toMatchObject({instances: 12, appPoolSize: 8, pgbouncerPoolSize: null, usable: 97, waitSits: 'postgres'})
  })

  it('over budget and queueing at PgBouncer: critical, the wait sits in PgBouncer', () => {
    const plan = planChain([app(4, 10, 3)], bouncer([pool({svActive: 20, clWaiting: 9})]), postgres(100, 3, 25))!
    expect(plan.severity).toBe('critical')
    expect(plan.remedy).toMatchObject({waitSits: 'pgbouncer', waitObserved: true, pgbouncerPoolSize: 40, appPoolSize: 10})
  })

  it('queue at PgBouncer with PostgreSQL room and no app gauges: pool grows by the queue, within budget', () => {
    const plan = planChain([], bouncer([pool({limit: 5, poolSize: 5, svActive: 5, clWaiting: 4})]), postgres(100, 3, 8))!
    expect(plan.subject).toBe('pgbouncer bouncer -> postgres pg')
    expect(plan.remedy).toMatchObject({waitSits: 'pgbouncer', pgbouncerPoolSize: 9, appPoolSize: null, instances: null})
    expect(plan.severity).toBe('warning')
  })

  it('more app connections than max_client_conn: critical even without a queue', () => {
    const plan = planChain([app(10, 20)], bouncer([pool({limit: 50, poolSize: 50})], 100), postgres(300, 3, 10))!
    expect(plan.severity).toBe('critical')
    expect(plan.evidence.breaks).toContain('200 app connections > max_client_conn 100 (refused)')
  })

  it('within budget and nothing waiting: no plan', () => {
    expect(planChain([app(2, 5)], bouncer([pool()]), postgres(100, 3, 10))).toBeUndefined()
  })

  it('with the database cores known, the HikariCP formula is given as a hint', () => {
    const plan = planChain([app(3, 10)], bouncer([pool()]), postgres(100, 3, 10), {dbCores: 8, spindles: 1})!
    expect(plan.remedy.sizingHint).toMatchObject({connections: 17})
  })
})
