// mysql.plans and the mysql-index advisor against the harness's MariaDB (performance_schema ON, the statement
// history consumer ON): a planted missing index is proposed, an existing one keeps it quiet, a secret literal of a
// sample text reaches neither the report nor the snapshot, a statement EXPLAIN does not take is skipped and never
// sent, and --queries in the MySQL dialect is split and explained the same way (through the built CLI).
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {auditMysql, mariadbConnect, MARIADB_PORT, MARIADB_PROBE_PASSWORD, MARIADB_URL, withMariadbDatabase} from '../../helpers/mariadb.js'
import {readingOf} from '../../helpers/pg.js'
import {runCli} from '../../helpers/cli.js'
import type {MysqlPlansData} from '../../../src/readings/mysql.js'

const SECRET = 'sk_live_7Hq2ZxPlantedSecret'

async function plant(db: string) {
  const conn = await mariadbConnect()
  await conn.query(`CREATE TABLE ${db}.orders (id INT PRIMARY KEY, customer_id INT, token VARCHAR(64), note VARCHAR(40)) ENGINE=InnoDB`)
  await conn.query(`INSERT INTO ${db}.orders SELECT seq, seq % 700, CONCAT('tok', seq), CONCAT('n', seq % 97) FROM ${db}.seq_1_to_20000`)
  await conn.query(`CREATE TABLE ${db}.accounts (id INT PRIMARY KEY, token VARCHAR(64), plan VARCHAR(20), KEY idx_token (token)) ENGINE=InnoDB`)
  await conn.query(`INSERT INTO ${db}.accounts SELECT seq, CONCAT('tok', seq), 'free' FROM ${db}.seq_1_to_20000`)
  await conn.query(`ANALYZE TABLE ${db}.orders, ${db}.accounts`)
  await conn.query(`CREATE PROCEDURE ${db}.slow_proc() BEGIN DO SLEEP(0.05); END`)
  await conn.query(`GRANT SELECT ON ${db}.* TO 'chokepoint'@'%'`)
  return conn
}

describe('mysql.plans and the mysql-index advisor', () => {
  it('proposes the planted missing index, is quiet where the index exists, never shows the secret literal, and skips an INSERT … VALUES and a CALL unsent', async () => {
    await withMariadbDatabase('cp_plans', async (db) => {
      const conn = await plant(db)
      try {
        await conn.query(`USE ${db}`)
        for (let i = 0; i < 15; i++) {
          await conn.query(`SELECT id, note FROM orders WHERE token = '${SECRET}'`)
          await conn.query(`SELECT plan FROM accounts WHERE token = '${SECRET}'`)
          await conn.query(`UPDATE orders SET note = 'x' WHERE customer_id = ${i + 1}`)
          await conn.query('CALL slow_proc()')
          await conn.query(`INSERT INTO accounts (id, token, plan) VALUES (${100_000 + i}, '${SECRET}', 'pro')`)
        }
        // Index health first, as in a full audit: its reads of sys and mysql are digests too.
        await auditMysql(MARIADB_URL, {onlyProbes: ['mysql.index-health']})
        const {report, snapshot} = await auditMysql(MARIADB_URL, {onlyProbes: ['mysql.plans'], options: {plansTopN: 200}})
        const reading = readingOf(snapshot, 'mysql.plans')
        expect(reading.status, reading.reason).toBe('ok')
        const data = reading.data as MysqlPlansData
        expect(data.sampleSource).toBe('events_statements_history_long')
        // chokepoint's own reads of sys and mysql (index health) are monitoring, not statements to index for.
        expect(data.statements.filter((s) => /`(sys|mysql)` \./.test(s.digestText ?? '')).map((s) => s.digestText)).toEqual([])
        const mine = data.statements.filter((s) => s.schema === db)
        const byText = (re: RegExp) => mine.find((s) => re.test(s.sql))
        const orders = byText(/FROM `?orders`? WHERE `?token`? = \?/)
        expect(orders, JSON.stringify(mine.map((s) => [s.sql, s.skipped, s.error]))).toMatchObject({explained: 'statement', summary: {fullScans: ['orders']}})
        expect(byText(/FROM `?accounts`?/)).toMatchObject({explained: 'statement', summary: {fullScans: []}})
        // The UPDATE is explained by its read part: the READ ONLY session may not EXPLAIN a write.
        expect(byText(/^UPDATE/)).toMatchObject({explained: 'read part', summary: {fullScans: ['orders']}})
        // An INSERT … VALUES is listed as not explained; a CALL (or DDL, COMMIT, SET) takes no slot at all.
        const insert = byText(/^INSERT/)
        expect(insert?.skipped).toMatch(/^INSERT … VALUES is not explained/)
        expect(insert?.plan).toBeUndefined()
        expect(byText(/CALL/i)).toBeUndefined()

        const proposals = report.findings.filter((f) => f.rule === 'database/missing-index' && f.subject.includes(`\`${db}\``))
        expect(proposals.map((f) => f.evidence.definition).sort()).toEqual([
          `CREATE INDEX \`idx_orders_customer_id\` ON \`${db}\`.\`orders\` (\`customer_id\`) ALGORITHM=INPLACE LOCK=NONE;`,
          `CREATE INDEX \`idx_orders_token_note\` ON \`${db}\`.\`orders\` (\`token\`, \`note\`) ALGORITHM=INPLACE LOCK=NONE;`,
        ].sort())
        expect(proposals.every((f) => f.evidence.verified === false && /not verified: neither MySQL nor MariaDB has hypothetical indexes/.test(String(f.evidence.notVerified)))).toBe(true)
        expect(proposals.every((f) => f.evidence.vendor === 'mariadb')).toBe(true)
        // accounts.token has its index: nothing proposed there.
        expect(report.findings.filter((f) => f.subject.includes('`accounts`'))).toEqual([])

        // The sample texts held the secret; the report, the snapshot and the command log never do.
        for (const [what, doc] of Object.entries({report, snapshot})) expect(JSON.stringify(doc).includes(SECRET), what).toBe(false)
        expect(JSON.stringify(snapshot).includes('sk_live')).toBe(false)
        // Neither was sent.
        const commands = (snapshot.overhead ?? report.overhead ?? []).flatMap((o) => o.commands.map((c) => c.text))
        expect(commands.some((t) => /EXPLAIN FORMAT=JSON/.test(t))).toBe(true)
        expect(commands.filter((t) => /slow_proc|CALL|INSERT/i.test(t))).toEqual([])
        expect(commands.filter((t) => t.includes('sk_live'))).toEqual([])
      } finally {
        await conn.query(`REVOKE SELECT ON ${db}.* FROM 'chokepoint'@'%'`).catch(() => {})
        await conn.end()
      }
    })
  })

  it('--verify-real on a database marked scratch builds each proposal, re-EXPLAINs, drops it, and marks it verified; refused on an unmarked one', async () => {
    await withMariadbDatabase('cp_plans_verify', async (db) => {
      const conn = await plant(db)
      try {
        await conn.query(`GRANT INDEX ON ${db}.* TO 'chokepoint'@'%'`)
        await conn.query(`USE ${db}`)
        for (let i = 0; i < 10; i++) await conn.query(`SELECT id, note FROM orders WHERE customer_id = ${i + 3}`)
        const options = {plansTopN: 200, verifyReal: true, scratch: true}
        const mine = (report: Awaited<ReturnType<typeof auditMysql>>['report']) => report.findings.filter((f) => f.rule === 'database/missing-index' && f.subject.includes(`\`${db}\``))
        const indexes = async () => (await conn.query(`SELECT INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'orders'`, [db]))[0] as Array<{INDEX_NAME: string}>

        const refused = mine((await auditMysql(MARIADB_URL, {onlyProbes: ['mysql.plans'], options})).report)
        expect(refused.length).toBeGreaterThan(0)
        expect(refused.every((f) => f.evidence.verified === false && /--verify-real refused: the database must be marked scratch \(the database `cp_plans_verify` is not marked \(ALTER DATABASE `cp_plans_verify` COMMENT 'chokepoint:scratch'\)\)/.test(String(f.evidence.notVerified)))).toBe(true)
        expect((await indexes()).map((r) => r.INDEX_NAME)).toEqual(['PRIMARY'])

        await conn.query(`ALTER DATABASE ${db} COMMENT 'chokepoint:scratch'`)
        const {report} = await auditMysql(MARIADB_URL, {onlyProbes: ['mysql.plans'], options})
        const verified = mine(report).find((f) => f.evidence.definition === `CREATE INDEX \`idx_orders_customer_id_note\` ON \`${db}\`.\`orders\` (\`customer_id\`, \`note\`) ALGORITHM=INPLACE LOCK=NONE;`)
        expect(verified?.evidence, JSON.stringify(mine(report).map((f) => f.evidence))).toMatchObject({verified: true})
        expect(Number(verified!.evidence.rowsExaminedAfter)).toBeLessThan(Number(verified!.evidence.rowsExaminedBefore) / 10)
        expect(verified!.remedies[0]).toMatchObject({verified: 'real'})
        expect(verified!.message).toMatch(/verified on a scratch database: built, used by 1 statement\(s\), rows examined \d+ → \d+, dropped/)
        // Dropped again: the scratch database is as it was.
        expect((await indexes()).map((r) => r.INDEX_NAME)).toEqual(['PRIMARY'])
      } finally {
        await conn.query(`REVOKE SELECT, INDEX ON ${db}.* FROM 'chokepoint'@'%'`).catch(() => {})
        await conn.end()
      }
    })
  })

  it('explains --queries statements in the MySQL dialect (backticks, # comments, weights), not with the PostgreSQL parser', async () => {
    await withMariadbDatabase('cp_plans_queries', async (db) => {
      const conn = await plant(db)
      const dir = mkdtempSync(join(tmpdir(), 'cp-mysql-queries-'))
      try {
        const file = join(dir, 'queries.sql')
        writeFileSync(file, `# MySQL-only syntax: the PostgreSQL parser refuses backticks and # comments\n-- weight: 40\nSELECT \`id\`, \`note\` FROM \`orders\` WHERE \`customer_id\` = 17;\n\nSELECT plan FROM accounts WHERE token = 'a;b';\nCALL slow_proc();\n`)
        const url = `mysql://chokepoint:${MARIADB_PROBE_PASSWORD}@127.0.0.1:${MARIADB_PORT}/${db}`
        const r = runCli(['audit', '--mysql', url, '--queries', file, '--window', '0', '--json', '--fail-on', 'never'], {env: {MYSQL_URL: undefined}})
        expect(r.status, r.stderr).toBe(0)
        const report = JSON.parse(r.stdout)
        const proposals = report.findings.filter((f: {rule: string}) => f.rule === 'database/missing-index')
        expect(proposals.map((f: {evidence: {definition: string; statements: string[]}}) => [f.evidence.definition, f.evidence.statements])).toEqual([
          [`CREATE INDEX \`idx_orders_customer_id_note\` ON \`${db}\`.\`orders\` (\`customer_id\`, \`note\`) ALGORITHM=INPLACE LOCK=NONE;`, ['q1']],
        ])
        expect(r.stdout.includes('a;b')).toBe(false)
        const bad = join(dir, 'bad.sql')
        writeFileSync(bad, 'SELECT id FROM `orders` WHERE;\n')
        const refused = runCli(['audit', '--mysql', url, '--queries', bad, '--window', '0', '--json'], {env: {MYSQL_URL: undefined}})
        expect(refused.status).toBe(2)
        expect(refused.stderr).toMatch(/bad\.sql:1: not valid MySQL\/MariaDB SQL/)
      } finally {
        rmSync(dir, {recursive: true, force: true})
        await conn.query(`REVOKE SELECT ON ${db}.* FROM 'chokepoint'@'%'`).catch(() => {})
        await conn.end()
      }
    })
  })
})
