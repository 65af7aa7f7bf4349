/**
 * A small real stack for the HTML report's test: a throwaway database on the harness PostgreSQL with two lookups
 * that lack an index (and a pool chain budget through the harness PgBouncer), and a private redis-server holding
 * key patterns with and without TTLs and a BullMQ backlog nobody works on. One runAudit over all three targets.
 */
import {Queue} from 'bullmq'
import {runAudit} from '../../../src/index.js'
import type {Report, Snapshot, TargetSpec} from '../../../src/core/types.js'
import {postgresProbes} from '../../../src/probes/postgres/index.js'
import {adminQuery, connect, forgetLoadWrites, waitForSql, withDatabase, PGBOUNCER_STATS_URL, PRIMARY_URL} from '../../helpers/pg.js'
import {startRedis, type RedisServer} from '../../helpers/redis-server.js'

export const SCENARIO_DB = 'cp_html_report'
const PG_PROBES = ['postgres.tables', 'postgres.cache-hit', 'postgres.statements', 'postgres.plans', 'postgres.connections', 'postgres.indexes']

export interface Scenario {
  report: Report
  snapshot: Snapshot
  stop(): Promise<void>
}

/** `hostile` lands in a Redis key pattern (a subject) and a queue name: text the report must show inert. */
export async function auditScenario(hostile: string): Promise<Scenario> {
  const url = withDatabase(PRIMARY_URL, SCENARIO_DB)
  await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${SCENARIO_DB} WITH (FORCE)`)
  await adminQuery(PRIMARY_URL, `CREATE DATABASE ${SCENARIO_DB}`)
  let redis: RedisServer | undefined
  const stop = async () => {
    await redis?.stop()
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${SCENARIO_DB} WITH (FORCE)`)
  }
  try {
    await adminQuery(url, `
      CREATE EXTENSION IF NOT EXISTS hypopg;
      CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      CREATE TABLE orders AS SELECT g AS id, g % 5000 AS customer_id, repeat('x', 300) AS pad FROM generate_series(1, 40000) g;
      CREATE TABLE customers AS SELECT g AS id, 'user' || g || '@example.com' AS email FROM generate_series(1, 20000) g;
      ANALYZE orders; ANALYZE customers;`)
    await forgetLoadWrites(url)
    const app = await connect(url, 'cp-html-app')
    try {
      for (let i = 0; i < 25; i++) await app.query('SELECT id, pad FROM orders WHERE customer_id = $1', [i * 7])
      for (let i = 0; i < 25; i++) await app.query('SELECT id FROM customers WHERE email = $1', [`user${i * 13}@example.com`])
    } finally {
      await app.end()
    }
    await waitForSql(url, `SELECT seq_scan >= 25 AS ok FROM pg_stat_user_tables WHERE relname = 'customers'`)

    redis = await startRedis({maxmemory: '64mb', policy: 'noeviction'})
    const {Redis} = await import('ioredis')
    const c = new Redis(redis.url, {maxRetriesPerRequest: 1})
    try {
      for (let i = 0; i < 60; i++) await c.set(`session:${i}`, 's'.repeat(400))
      for (let i = 0; i < 40; i++) await c.set(`product:${i}`, 'p'.repeat(200), 'EX', 3600)
      for (let i = 0; i < 20; i++) {
        if (i % 2) await c.set(`${hostile}:${i}`, 'h'.repeat(100), 'EX', 600)
        else await c.set(`${hostile}:${i}`, 'h'.repeat(100))
      }
    } finally {
      c.disconnect()
    }
    const connection = {host: '127.0.0.1', port: redis.port}
    const backlog = new Queue('emails', {connection})
    const other = new Queue('thumbs', {connection})
    const odd = new Queue(`odd${hostile}`, {connection})
    try {
      await backlog.add('old', {n: 0}, {timestamp: Date.now() - 10 * 60_000})
      await backlog.addBulk(Array.from({length: 1200}, (_, n) => ({name: 'job', data: {n}})))
      await other.addBulk(Array.from({length: 150}, (_, n) => ({name: 'job', data: {n}})))
      await odd.add('job', {n: 0})
    } finally {
      await odd.close()
      await backlog.close()
      await other.close()
    }

    const targets: TargetSpec[] = [
      {name: 'pg', kind: 'postgres', url, options: {}},
      {name: 'bouncer', kind: 'pgbouncer', url: PGBOUNCER_STATS_URL, options: {}},
      {name: 'cache', kind: 'redis', url: redis.url, options: {scanPauseMs: 0}},
    ]
    const skipProbes = postgresProbes.map((p) => p.id).filter((id) => !PG_PROBES.includes(id))
    const {report, snapshot} = await runAudit({config: {skipProbes, options: {postgres: {poolChain: {instances: 3, appPoolSize: 4}}}}, targets, windowSeconds: 0, failOn: 'critical'})
    return {report, snapshot, stop}
  } catch (error) {
    await stop().catch(() => {})
    throw error
  }
}
