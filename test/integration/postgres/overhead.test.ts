/**
 * The overhead report counts everything sent to a target, advisors included: its round trips for an audit equal
 * what the server itself logged for chokepoint's role.
 *
 * The server's record is its statement log, switched on for a scratch role and database of this test only
 * (ALTER ROLE ... IN DATABASE ... SET log_statement = 'all'; the harness logs to its state directory with
 * log_line_prefix '%m [%p] %q%u@%d ', so each line names the role and database). log_statement writes one line per
 * query message: one "statement:" per simple query, however many statements it holds (the session setup sends five
 * in one round trip), and one "execute" per extended-protocol execution (parameterised queries). That is what a
 * round trip is, so the comparison is exact. pg_stat_statements would not be: it counts each statement of a
 * multi-statement string separately, leaves out statements that fail, and may evict entries (max 10,000 on the
 * shared harness, where other suites run thousands of statements).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {runCli} from '../../helpers/cli.js'
import {adminQuery, PRIMARY_URL, quoteIdent, withDatabase} from '../../helpers/pg.js'

const ROLE = 'cp_fz_ovh'
const DB = 'cp_fz_ovh'
const url = withDatabase(PRIMARY_URL.replace('postgres@', `${ROLE}@`), DB)
const STATE_DIR = process.env.CHOKEPOINT_TEST_STATE_DIR ?? '/var/tmp/chokepoint-test'
const LOG_FILE = `${STATE_DIR.replace(/\/$/, '')}/log/primary.log`

/** The server's log from `offset`, read by the server itself: the file belongs to the postgres account. */
async function logFrom(offset: number): Promise<string> {
  const [{size}] = await adminQuery<{size: string}>(PRIMARY_URL, 'SELECT size FROM pg_stat_file($1)', [LOG_FILE])
  if (Number(size) <= offset) return ''
  const [{text}] = await adminQuery<{text: string}>(PRIMARY_URL, 'SELECT pg_read_file($1, $2, $3) AS text', [LOG_FILE, offset, Number(size) - offset])
  return text
}

async function logSize(): Promise<number> {
  const [{size}] = await adminQuery<{size: string}>(PRIMARY_URL, 'SELECT size FROM pg_stat_file($1)', [LOG_FILE])
  return Number(size)
}

/** Query messages the server logged for our role and database: "statement:" (simple) and "execute ...:" (extended). */
function loggedQueries(log: string): string[] {
  const mine = new RegExp(`^\\S+ \\S+ \\S+ \\[\\d+\\] ${ROLE}@${DB} LOG:  (?:statement|execute [^:]*): (.*)$`)
  return log.split('\n').flatMap((line) => {
    const m = mine.exec(line)
    return m ? [m[1]] : []
  })
}

describe('the overhead report against the server\'s statement log', () => {
  beforeAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${quoteIdent(DB)} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${quoteIdent(ROLE)}`)
    await adminQuery(PRIMARY_URL, `CREATE ROLE ${quoteIdent(ROLE)} LOGIN; GRANT pg_monitor TO ${quoteIdent(ROLE)}`)
    await adminQuery(PRIMARY_URL, `CREATE DATABASE ${quoteIdent(DB)} OWNER ${quoteIdent(ROLE)}`)
    await adminQuery(withDatabase(PRIMARY_URL, DB), `
      CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
      CREATE EXTENSION IF NOT EXISTS hypopg;
      CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, status text);
      INSERT INTO orders SELECT g, g % 500, 'paid' FROM generate_series(1, 20000) g;
      CREATE INDEX orders_status_idx ON orders (status);
      CREATE INDEX orders_status_dup ON orders (status);
      ALTER TABLE orders OWNER TO ${quoteIdent(ROLE)};
      ANALYZE;`)
    // Only this role's sessions in this database are logged: nothing of the other suites on the shared server.
    await adminQuery(PRIMARY_URL, `ALTER ROLE ${quoteIdent(ROLE)} IN DATABASE ${quoteIdent(DB)} SET log_statement = 'all'`)
  }, 120_000)

  afterAll(async () => {
    await adminQuery(PRIMARY_URL, `DROP DATABASE IF EXISTS ${quoteIdent(DB)} WITH (FORCE)`)
    await adminQuery(PRIMARY_URL, `DROP ROLE IF EXISTS ${quoteIdent(ROLE)}`)
  })

  it('counts every query of a live audit, the index advisor\'s what-if calls and a window\'s two rounds included', async () => {
    const before = await logSize()
    const r = runCli(['audit', '--pg', url, '--window', '1', '--json', '--fail-on', 'never',
      '--query', 'SELECT * FROM orders WHERE customer_id = 42', '--query', "SELECT count(*) FROM orders WHERE status = 'paid'"])
    expect(r.status, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout)
    const [overhead] = report.overhead
    // The advisor ran against the live session: its what-if calls (hypopg) are among the commands.
    expect(overhead.commands.some((c: {probe: string}) => c.probe.startsWith('advisor.'))).toBe(true)
    expect(overhead.commands.some((c: {text: string}) => /hypopg/.test(c.text))).toBe(true)
    const counted = overhead.commands.reduce((sum: number, c: {count: number}) => sum + c.count, 0)
    expect(counted).toBe(overhead.roundTrips)

    // Each backend writes its lines as it runs, and the audit has ended: the log is complete. Read until stable.
    let logged: string[] = []
    for (let i = 0; i < 20; i++) {
      const next = loggedQueries(await logFrom(before))
      if (next.length === logged.length && next.length > 0) break
      logged = next
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    console.log(`overhead: ${overhead.roundTrips} round trips reported, ${logged.length} queries logged by the server`)
    expect(logged.length).toBeGreaterThan(20)
    expect(overhead.roundTrips, `logged:\n${logged.map((q) => q.slice(0, 100)).join('\n')}`).toBe(logged.length)
  }, 120_000)
})
