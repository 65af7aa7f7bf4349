/**
 * The demo shop on the embedded server: schema and rows from fixtures/demo/*.sql, an application workload
 * that leaves its traces in pg_stat_statements and the table statistics, and the sessions a leaky
 * application keeps open. Everything here is ordinary client traffic; the probes see it like any other.
 */
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import pg from 'pg'
import {PACKAGE_ROOT} from '../core/rules.js'

const FIXTURES = join(PACKAGE_ROOT, 'fixtures', 'demo')

export const SHOP_DATABASE = 'shop'

/** Client sessions of the demo: tagged so a reader of the report can tell the demo's "application" apart. */
export async function connectAs(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({connectionString: url, application_name: applicationName, connectionTimeoutMillis: 10_000})
  // The server is stopped under these clients on Ctrl-C: an 'error' event must not crash the process.
  client.on('error', () => {})
  await client.connect()
  return client
}

export async function createShopDatabase(adminUrl: string): Promise<void> {
  const admin = await connectAs(adminUrl, 'shop-setup')
  try {
    await admin.query(`CREATE DATABASE ${SHOP_DATABASE}`)
  } finally {
    await admin.end().catch(() => {})
  }
}

export async function createShopSchema(shopUrl: string): Promise<void> {
  await runScript(shopUrl, 'shop-schema.sql')
}

export async function seedShopRows(shopUrl: string): Promise<void> {
  await runScript(shopUrl, 'shop-data.sql')
}

async function runScript(url: string, file: string): Promise<void> {
  const client = await connectAs(url, 'shop-setup')
  try {
    // A multi-statement simple query: one round trip, and the script's statements keep their text in pg_stat_statements.
    await client.query(readFileSync(join(FIXTURES, file), 'utf8'))
  } finally {
    await client.end().catch(() => {})
  }
}

/**
 * The classic forgotten transaction: a worker begins, reads the clock, then waits on a remote call with the
 * transaction still open. Opened before the rows are loaded, so it has aged by the time the audit looks.
 * It touches no table: a lock held here would block the seed's ALTER TABLE until the end of time.
 */
export async function openIdleTransaction(shopUrl: string): Promise<{client: pg.Client; openedAt: number}> {
  const client = await connectAs(shopUrl, 'shop-worker')
  await client.query('BEGIN')
  await client.query('SELECT now() AS job_started_at')
  return {client, openedAt: Date.now()}
}

/**
 * A web tier whose pools keep connections open whether or not they are used: `count` idle sessions.
 * Opened a few at a time so that connection start-up does not starve the small machine.
 */
export async function holdIdleConnections(shopUrl: string, count: number, isCancelled: () => boolean): Promise<pg.Client[]> {
  const clients: pg.Client[] = []
  const batch = 8
  for (let opened = 0; opened < count && !isCancelled(); opened += batch) {
    const size = Math.min(batch, count - opened)
    const settled = await Promise.allSettled(Array.from({length: size}, () => connectAs(shopUrl, 'shop-web')))
    for (const result of settled) {
      if (result.status === 'fulfilled') clients.push(result.value)
    }
    const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure) {
      await closeAll(clients)
      throw failure.reason
    }
  }
  return clients
}

/** How many idle sessions bring client connections to about 92% of the usable slots (pool/utilization past 90%). */
export async function idleSessionsForCriticalPool(shopUrl: string, otherSessions: number): Promise<{count: number; maxConnections: number; usable: number}> {
  const client = await connectAs(shopUrl, 'shop-setup')
  try {
    const {rows} = await client.query<{max: number; reserved: number}>(
      `SELECT current_setting('max_connections')::int AS max,
              current_setting('superuser_reserved_connections')::int
                + coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0) AS reserved`)
    const usable = rows[0].max - rows[0].reserved
    return {count: Math.max(Math.ceil(usable * 0.92) - otherSessions, 0), maxConnections: rows[0].max, usable}
  } finally {
    await client.end().catch(() => {})
  }
}

export async function closeAll(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.splice(0).map((c) => c.end().catch(() => {})))
}

interface WorkloadStatement {
  /** What the application does with it, for the progress line. */
  purpose: string
  sql: string
  calls: number
  params: (i: number) => unknown[]
}

/**
 * The application's statements: a few hundred executions in all. The slow ones are slow for the reasons
 * planted in shop-schema.sql (unindexed foreign keys and lookup columns, a function over an indexed column).
 */
export const WORKLOAD: WorkloadStatement[] = [
  {
    purpose: 'order history of a customer (orders.customer_id has no index)',
    sql: 'SELECT id, status, total_cents, created_at FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20',
    calls: 60,
    params: (i) => [1 + ((i * 7919) % 20000)],
  },
  {
    purpose: 'lines of an order (order_items.order_id has no index)',
    sql: 'SELECT p.name, oi.quantity, oi.price_cents FROM order_items oi JOIN products p ON p.id = oi.product_id WHERE oi.order_id = $1',
    calls: 40,
    params: (i) => [1 + ((i * 104729) % 200000)],
  },
  {
    purpose: 'customer spend by country (joins over both unindexed foreign keys)',
    sql: `SELECT c.id, c.email, sum(oi.quantity * oi.price_cents) AS spent
            FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items oi ON oi.order_id = o.id
           WHERE c.country = $1 AND o.status <> 'cancelled'
           GROUP BY c.id, c.email ORDER BY spent DESC LIMIT 10`,
    calls: 10,
    params: (i) => [['DE', 'FR', 'US', 'GB', 'NL', 'ES', 'IT', 'PL'][i % 8]],
  },
  {
    purpose: 'session lookup on every request (sessions.token has no index)',
    sql: 'SELECT id, customer_id FROM sessions WHERE token = $1',
    calls: 150,
    params: (i) => [md5Token(2 + ((i * 31) % 59000))],
  },
  {
    purpose: 'session touch on every request',
    sql: 'UPDATE sessions SET last_seen_at = now() WHERE token = $1',
    calls: 60,
    params: (i) => [md5Token(2 + ((i * 37) % 59000))],
  },
  {
    purpose: 'login by e-mail, case-insensitive (the index on email cannot serve lower(email))',
    sql: 'SELECT id, name FROM customers WHERE lower(email) = lower($1)',
    calls: 40,
    params: (i) => [`Customer${1 + ((i * 13) % 20000)}@Example.com`],
  },
  {
    purpose: 'product page',
    sql: 'SELECT id, sku, name, price_cents FROM products WHERE id = $1',
    calls: 300,
    params: (i) => [1 + ((i * 17) % 2000)],
  },
  {
    purpose: 'daily revenue for the last week (served by the index on created_at)',
    sql: `SELECT date_trunc('day', created_at) AS day, count(*), sum(total_cents) FROM orders
           WHERE created_at >= now() - interval '7 days' GROUP BY 1 ORDER BY 1`,
    calls: 20,
    params: () => [],
  },
]

function md5Token(sessionId: number): string {
  // The same tokens as shop-data.sql: md5('session' || id). Node's crypto gives the identical digest.
  return md5(`session${sessionId}`)
}

function md5(text: string): string {
  return createHash('md5').update(text).digest('hex')
}

export interface WorkloadResult {
  executions: number
  seconds: number
}

/**
 * Runs the workload on `concurrency` connections, the statements interleaved as an application would send
 * them, for at least `minSeconds` (repeating the mix if it finishes sooner). Stops early, without error,
 * once isCancelled() turns true.
 */
export async function runWorkload(shopUrl: string, concurrency: number, isCancelled: () => boolean, minSeconds = 0): Promise<WorkloadResult> {
  const started = Date.now()
  const queue: Array<{sql: string; params: unknown[]}> = []
  const remaining = WORKLOAD.map((s) => s.calls)
  // Round-robin over the statements so that slow and fast ones overlap, as they would in production.
  for (let i = 0; remaining.some((n) => n > 0); i++) {
    WORKLOAD.forEach((statement, index) => {
      if (remaining[index] <= 0) return
      remaining[index]--
      queue.push({sql: statement.sql, params: statement.params(i)})
    })
  }
  const clients = await Promise.all(Array.from({length: concurrency}, () => connectAs(shopUrl, 'shop-web')))
  const deadline = started + minSeconds * 1000
  let next = 0
  let executions = 0
  const more = () => !isCancelled() && (next < queue.length || Date.now() < deadline)
  try {
    await Promise.all(clients.map(async (client) => {
      while (more()) {
        const {sql, params} = queue[next++ % queue.length]
        await client.query(sql, params)
        executions++
      }
    }))
  } finally {
    await closeAll(clients)
  }
  return {executions, seconds: (Date.now() - started) / 1000}
}
