/**
 * The MySQL/MariaDB part of the demo: it joins only when a server answers (MYSQL_URL, or the default
 * mysql://root@127.0.0.1:3306) and lets the demo create a database. Everything is written in one database of a
 * random name, dropped after. What it plants is what index health reads from information_schema: a table without a
 * primary key, a duplicate index and a redundant one; and a few statements that scan, which the statements probe
 * sees only where performance_schema is ON (the report then says how to turn it on).
 */
import {randomBytes} from 'node:crypto'
import {createConnection, type Connection} from 'mysql2/promise'
import {quoteMysqlIdent} from '../core/sql.js'
import {mysqlConnectionOptions} from '../drivers/mysql.js'

export const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306'

export interface MysqlPart {
  /** The target URL: the server's, with the demo's database. */
  url: string
  database: string
  /** What was planted, for the progress output. */
  planted: string[]
  /** Drops the demo's database. */
  cleanup(): Promise<void>
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${encodeURIComponent(database)}`
  return u.toString()
}

/** The driver's reading of the URL (user, password, port, TLS), but a read-write session: the demo seeds. */
async function connect(url: string, timeoutMs: number): Promise<Connection> {
  const connection = await createConnection(mysqlConnectionOptions(url, {connectTimeoutMs: timeoutMs}))
  connection.on('error', () => {})
  return connection
}

/** Whether a MySQL or MariaDB answers at `url` within the timeout, and which; the reason when not. */
export async function checkMysql(url: string, timeoutMs = 1000): Promise<{ok: true; version: string} | {ok: false; reason: string}> {
  let connection: Connection | undefined
  try {
    connection = await connect(url, timeoutMs)
    const [rows] = await connection.query({sql: 'SELECT VERSION() AS version', timeout: timeoutMs})
    return {ok: true, version: String((rows as Array<{version: unknown}>)[0]?.version ?? '')}
  } catch (error) {
    const e = error as {code?: string; message?: string}
    return {ok: false, reason: e.code === 'ECONNREFUSED' ? 'connection refused' : (e.message ?? String(error)).split('\n')[0]}
  } finally {
    connection?.destroy()
  }
}

const CUSTOMERS = 5000
const EVENTS = 20_000
const BATCH = 1000
const COUNTRIES = ['DE', 'FR', 'US', 'JP', 'BR']
const KINDS = ['created', 'paid', 'shipped']
const range = (from: number, to: number) => Array.from({length: to - from + 1}, (_, k) => from + k)

/**
 * Creates the demo's database and plants what index health finds. A user who may not create databases gets an
 * error here, and the demo goes on without this part.
 */
export async function seedMysqlPart(url: string): Promise<MysqlPart> {
  const database = `chokepoint_demo_${randomBytes(4).toString('hex')}`
  const connection = await connect(url, 5000)
  const part: MysqlPart = {
    url: withDatabase(url, database),
    database,
    planted: [],
    async cleanup() {
      const c = await connect(url, 5000).catch(() => undefined)
      await c?.query(`DROP DATABASE IF EXISTS ${quoteMysqlIdent(database)}`).catch(() => {})
      c?.destroy()
    },
  }
  try {
    await connection.query(`CREATE DATABASE ${quoteMysqlIdent(database)}`)
    await connection.query(`USE ${quoteMysqlIdent(database)}`)
    await connection.query(`CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(120) NOT NULL, country CHAR(2) NOT NULL,
      city VARCHAR(60) NOT NULL, created_at DATETIME NOT NULL, KEY idx_email (email), KEY idx_email_again (email),
      KEY idx_country (country), KEY idx_country_city (country, city)) ENGINE=InnoDB`)
    await connection.query(`CREATE TABLE order_events (order_id INT NOT NULL, kind VARCHAR(20) NOT NULL, at DATETIME NOT NULL,
      payload VARCHAR(200)) ENGINE=InnoDB`)
    // Rows in batches of a multi-row INSERT: a recursive CTE would hit MySQL's cte_max_recursion_depth (1000).
    for (let start = 1; start <= CUSTOMERS; start += BATCH) {
      const rows = range(start, Math.min(CUSTOMERS, start + BATCH - 1)).map((i) => [i, `customer${i}@example.com`, COUNTRIES[i % COUNTRIES.length], `city${i % 40}`, new Date(Date.now() - i * 60_000)])
      await connection.query('INSERT INTO customers (id, email, country, city, created_at) VALUES ?', [rows])
    }
    for (let start = 1; start <= EVENTS; start += BATCH) {
      const rows = range(start, Math.min(EVENTS, start + BATCH - 1)).map((i) => [i % 4000, KINDS[i % KINDS.length], new Date(Date.now() - i * 1000), 'x'.repeat(80)])
      await connection.query('INSERT INTO order_events (order_id, kind, at, payload) VALUES ?', [rows])
    }
    // The application's reads: by an unindexed column, so each one reads the whole table.
    for (let i = 0; i < 30; i += 1) {
      await connection.query('SELECT count(*) FROM order_events WHERE order_id = ?', [i * 7])
      await connection.query('SELECT id, email FROM customers WHERE city = ? ORDER BY created_at DESC LIMIT 10', [`city${i}`])
    }
    await connection.query(`ANALYZE TABLE customers, order_events`)
    part.planted.push(`database ${database}: ${CUSTOMERS} customers with a duplicate index (idx_email twice) and a redundant one`
      + ` (idx_country, a prefix of idx_country_city); ${EVENTS} order events in a table without a primary key; 60 scanning reads`)
  } catch (error) {
    await part.cleanup()
    throw error
  } finally {
    connection.destroy()
  }
  return part
}
