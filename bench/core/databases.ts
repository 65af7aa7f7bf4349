/**
 * The benchmark databases of bench/core (and the benchmarks that audit the same shapes, e.g. bench/scaling-advisors):
 * `tables` small tables with a primary key and two secondary indexes, and distinct statements run so that
 * pg_stat_statements holds them. Created once and reused while their shape is right.
 */
import pg from 'pg'

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

export function withDatabase(url: string, database: string): string {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

export async function query<T extends Record<string, any> = Record<string, any>>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({connectionString: url, application_name: 'chokepoint-bench'})
  await client.connect()
  try {
    return (await client.query<T>(text)).rows
  } finally {
    await client.end()
  }
}

/** Zero-padded to at least 4 digits, so the 1,000-table databases keep the names they were created with. */
const tableName = (i: number, width = 4) => `bench_t${String(i).padStart(width, '0')}`
const nameWidth = (tables: number) => Math.max(4, String(tables).length)

/**
 * The k-th distinct statement of a database of `tables` tables: every table gets one of each shape before any
 * gets the next, so up to 3 x tables statements are distinct and normalise to distinct queryids.
 */
function statementText(k: number, tables: number): string {
  const table = tableName((k % tables) + 1, nameWidth(tables))
  const shapes = [
    `SELECT id, c FROM ${table} WHERE a = 3`,
    `SELECT count(*) FROM ${table} WHERE b BETWEEN 2 AND 5`,
    `SELECT max(c) FROM ${table} WHERE a = 1 AND b = 2`,
  ]
  return shapes[Math.floor(k / tables) % shapes.length]
}

export interface PreparedDatabase {
  name: string
  url: string
  tables: number
  /** What the case asked for and what was run: fewer when pg_stat_statements.max leaves no room (see below). */
  statementsRequested: number
  statementsRun: number
  /** Entries pg_stat_statements holds for this database after the run (evictions by other databases lower it). */
  statements: number
  setupSeconds: number
}

/**
 * Creates (or reuses, when it already has the right shape) a database of `tables` small tables, then runs
 * `statements` distinct statements (two per table by default) so that pg_stat_statements holds them. Statements
 * run every time: on a shared server other databases' entries may have evicted ours. Creation is resumable: an
 * interrupted seeding of a large database keeps the tables it made and adds the missing ones on the next run.
 *
 * The DDL runs with pg_stat_statements.track = none: every CREATE of a distinct table is a distinct utility entry,
 * and 20,000 of them would evict every other database's statements on a server other test runs share.
 * Past 2,000, `statements` is capped so that the server's pg_stat_statements.max still has room for what it holds
 * already (less a margin): beyond that, seeding would only evict entries, ours or other runs'.
 */
const ALWAYS_RUN = 2000

export async function prepareDatabase(serverUrl: string, log: (message: string) => void, name: string, tables: number, statements = 2 * tables): Promise<PreparedDatabase> {
  const started = Date.now()
  const url = withDatabase(serverUrl, name)
  const width = nameWidth(tables)
  const exists = (await query(serverUrl, `SELECT 1 FROM pg_database WHERE datname = '${name}'`)).length > 0
  const count = async () => Number((await query<{n: string}>(url,
    "SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'bench\\_t%'"))[0].n)
  const present = exists ? await count() : -1
  if (present !== tables) {
    // More tables than wanted (another shape) cannot be trimmed to this one: start again.
    if (present > tables || present < 0) {
      log(`creating database ${name} with ${tables} tables`)
      await query(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await query(serverUrl, `CREATE DATABASE ${name}`)
      await query(url, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
    } else {
      log(`completing database ${name}: ${present} of ${tables} tables there`)
    }
    // Batches of 100 tables per transaction: 6 relations a table (with TOAST), each locked until commit, must fit the lock table.
    for (let from = 1; from <= tables; from += 100) {
      const to = Math.min(from + 99, tables)
      await query(url, `SET pg_stat_statements.track = 'none'; DO $$ DECLARE t text; BEGIN FOR i IN ${from}..${to} LOOP
        t := 'bench_t' || lpad(i::text, ${width}, '0');
        CONTINUE WHEN to_regclass(quote_ident(t)) IS NOT NULL;
        EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, c text NOT NULL)', t);
        EXECUTE format('CREATE INDEX ON %I (a)', t);
        EXECUTE format('CREATE INDEX ON %I (b, c)', t);
        EXECUTE format('INSERT INTO %I SELECT g, g %% 7, g %% 13, md5(g::text) FROM generate_series(1, 50) g', t);
      END LOOP; END $$`)
      if (tables >= 5000 && to % 2000 === 0) log(`${name}: ${to} of ${tables} tables`)
    }
    // Apart from the SET: in one query string ANALYZE would run in one transaction, holding a lock per table.
    const analyzer = new pg.Client({connectionString: url, application_name: 'chokepoint-bench'})
    await analyzer.connect()
    try {
      await analyzer.query("SET pg_stat_statements.track = 'none'")
      await analyzer.query('ANALYZE')
    } finally {
      await analyzer.end()
    }
  }
  const [room] = await query<{max: string; held: string; ours: string}>(url, `SELECT current_setting('pg_stat_statements.max') AS max,
      (SELECT count(*) FROM pg_stat_statements) AS held,
      (SELECT count(*) FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())) AS ours`)
  // Room for ours again (they were counted in held), less 10% of max for the audits' own and other runs' statements.
  // The standard cases (2 per table, at most 2,000) always run: they are what the baselines compare.
  const fits = Math.max(0, Number(room.max) - Number(room.held) + Number(room.ours) - Math.ceil(Number(room.max) / 10))
  const run = statements <= ALWAYS_RUN ? statements : Math.min(statements, Math.max(ALWAYS_RUN, fits))
  if (run < statements) log(`${name}: ${run} of ${statements} statements (pg_stat_statements.max = ${room.max}, ${room.held} entries held)`)
  const client = new pg.Client({connectionString: url, application_name: 'chokepoint-bench'})
  await client.connect()
  try {
    // 100 statements a round trip (simple protocol): pg_stat_statements still records each one separately.
    for (let i = 0; i < run; i += 100) {
      const batch: string[] = []
      for (let k = i; k < Math.min(i + 100, run); k++) batch.push(statementText(k, tables))
      await client.query(batch.join(';\n'))
    }
    const [row] = (await client.query<{n: string}>(
      'SELECT count(*) AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())')).rows
    return {name, url, tables, statementsRequested: statements, statementsRun: run, statements: Number(row.n), setupSeconds: round((Date.now() - started) / 1000)}
  } finally {
    await client.end()
  }
}

