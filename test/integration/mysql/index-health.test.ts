// mysql.index-health against the harness's MariaDB (userstat ON from its configuration): a duplicate, a left-prefix
// and a primary-key-suffix index, a table without a primary key and one clustered on a UNIQUE NOT NULL index each
// fire their rule; a well-indexed table stays quiet; every remedy runs on the server and its rollback puts it back.
import {describe, expect, it} from 'vitest'
import {auditMysql, mariadbConnect, MARIADB_URL, withMariadbDatabase} from '../../helpers/mariadb.js'
import {readingOf} from '../../helpers/pg.js'

describe('mysql.index-health', () => {
  it('fires duplicate-index and mysql-no-primary-key on planted tables, quiet on a good one; remedies and rollbacks run', async () => {
    await withMariadbDatabase('cp_index_health', async (db) => {
      const conn = await mariadbConnect()
      try {
        await conn.query(`CREATE TABLE ${db}.orders (id INT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(16) NOT NULL, created_at DATETIME NOT NULL,
          KEY idx_customer (customer_id), KEY idx_customer_again (customer_id), KEY idx_status (status), KEY idx_status_created (status, created_at),
          KEY idx_created_id (created_at, id)) ENGINE=InnoDB`)
        await conn.query(`CREATE TABLE ${db}.good (id INT PRIMARY KEY, a INT, b INT, KEY idx_ab (a, b)) ENGINE=InnoDB`)
        await conn.query(`CREATE TABLE ${db}.heap (msg VARCHAR(20)) ENGINE=InnoDB`)
        await conn.query(`CREATE TABLE ${db}.keyed (code INT NOT NULL, UNIQUE KEY uq_code (code)) ENGINE=InnoDB`)
        // information_schema lists only the tables a user holds a privilege on: what docs/mysql-index.md asks for.
        await conn.query(`GRANT SELECT ON ${db}.* TO 'chokepoint'@'%'`)
        const {report, snapshot} = await auditMysql(MARIADB_URL, {onlyProbes: ['mysql.index-health']})
        const reading = readingOf(snapshot, 'mysql.index-health')
        expect(reading.status, reading.reason).toBe('ok')
        const mine = (rule: string) => report.findings.filter((f) => f.rule === rule && f.subject.includes(`\`${db}\``))
        const dups = mine('database/duplicate-index')
        expect(dups.map((f) => f.subject).sort()).toEqual([
          `\`${db}\`.\`orders\` \`idx_created_id\``, `\`${db}\`.\`orders\` \`idx_customer_again\``, `\`${db}\`.\`orders\` \`idx_status\``,
        ].sort())
        expect(dups.every((f) => f.evidence.vendor === 'mariadb')).toBe(true)
        expect(mine('database/duplicate-index').filter((f) => f.subject.includes('`good`'))).toEqual([])
        const nopk = mine('database/mysql-no-primary-key')
        expect(nopk.map((f) => [f.subject, f.evidence.clusteredBy])).toEqual([[`\`${db}\`.\`heap\``, null], [`\`${db}\`.\`keyed\``, 'uq_code']].sort())

        // Every remedy is pasteable as it is, and its rollback restores the index.
        for (const f of dups) {
          const remedy = f.remedies[0] as {sql: string; recreateSql: string}
          await conn.query(remedy.sql)
          await conn.query(remedy.recreateSql)
        }
        await conn.query(String(nopk.find((f) => f.evidence.clusteredBy === 'uq_code')!.remedies[0].sql))
        const [after] = await conn.query(`SELECT TABLE_NAME, INDEX_NAME, GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX) AS cols FROM information_schema.STATISTICS
          WHERE TABLE_SCHEMA = ? GROUP BY TABLE_NAME, INDEX_NAME ORDER BY TABLE_NAME, INDEX_NAME`, [db]) as unknown as [Array<{TABLE_NAME: string; INDEX_NAME: string; cols: string}>]
        expect(after.map((r) => `${r.TABLE_NAME}.${r.INDEX_NAME}(${r.cols})`)).toEqual([
          'good.idx_ab(a,b)', 'good.PRIMARY(id)', 'keyed.PRIMARY(code)',
          'orders.idx_created_id(created_at,id)', 'orders.idx_customer(customer_id)', 'orders.idx_customer_again(customer_id)',
          'orders.idx_status(status)', 'orders.idx_status_created(status,created_at)', 'orders.PRIMARY(id)',
        ])
      } finally {
        await conn.query(`REVOKE SELECT ON ${db}.* FROM 'chokepoint'@'%'`).catch(() => {})
        await conn.end().catch(() => conn.destroy())
      }
    })
  })
})
