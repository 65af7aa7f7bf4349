import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {extendedKeysOn, indexHealthProbe, type MysqlIndexSession} from '../../../src/probes/mysql/index-health.js'
import type {ProbeContext} from '../../../src/core/probe.js'

const rows = (name: string) => (JSON.parse(readFileSync(new URL(`fixtures/mariadb-10.11/${name}.json`, import.meta.url), 'utf8')) as {rows: unknown[]}).rows

/** A session answering from the recorded MariaDB rows; `deny` makes the queries matching it fail like a missing grant. */
function fakeSession(flavour: 'mysql' | 'mariadb', answers: Record<string, unknown[]>, deny: RegExp[] = []): MysqlIndexSession & {sent: string[]} {
  const sent: string[] = []
  return {
    flavour, isReplica: false, sent,
    async query(sql: string) {
      sent.push(sql)
      if (deny.some((d) => d.test(sql))) throw Object.assign(new Error("SELECT command denied to user 'audit'"), {errno: 1142})
      const key = Object.keys(answers).find((k) => sql.includes(k))
      return (key ? answers[key] : []) as any[]
    },
  }
}

const ctx = {options: {}, windowSeconds: 0, log: () => {}, target: {name: 'maria', kind: 'mysql', url: '', options: {}}} as unknown as ProbeContext
const recorded = {
  'information_schema.STATISTICS': rows('statistics'), 'information_schema.TABLES': rows('tables'), 'mysql.innodb_index_stats': rows('index-sizes'),
  '@@optimizer_switch': [{optimizer_switch: 'index_merge=on,extended_keys=on', performance_schema: 0}],
  "LIKE 'Uptime'": [{Variable_name: 'Uptime', Value: String(30 * 86400)}],
  'SYSTEM_VARIABLES': [{value: 'ON', origin: 'CONFIG'}],
  'INDEX_STATISTICS': [{TABLE_SCHEMA: 'chokepoint_fixture_scratch', TABLE_NAME: 'orders', INDEX_NAME: 'idx_status_created', ROWS_READ: 3}],
  'PROCESSLIST': [{n: 0}],
}

describe('mysql.index-health probe (on recorded MariaDB rows)', () => {
  it('reads in a fixed number of round trips and hands the rows to the index health rules', async () => {
    const session = fakeSession('mariadb', recorded)
    const out = await indexHealthProbe.collect(session, ctx, undefined)
    expect(session.sent.length).toBeLessThanOrEqual(8)
    expect(session.sent.every((q) => /^\s*(SELECT|SHOW)\b/i.test(q))).toBe(true)
    const names = out.metrics.map((m) => m.name)
    expect(names.filter((n) => n === 'db.index.duplicate_bytes')).toHaveLength(5)
    expect(names.filter((n) => n === 'mysql.table.no_primary_key')).toHaveLength(2)
    expect(out.metrics.filter((m) => m.name === 'db.index.unused_bytes').every((m) => m.evidence!.statsAgeSeconds === 30 * 86400)).toBe(true)
    expect(out.notRead).toBeUndefined()
  })

  it('extended_keys off: no primary-key-suffix duplicates', async () => {
    const session = fakeSession('mariadb', {...recorded, '@@optimizer_switch': [{optimizer_switch: 'extended_keys=off', performance_schema: 0}]})
    const out = await indexHealthProbe.collect(session, ctx, undefined)
    expect(out.metrics.filter((m) => m.name === 'db.index.duplicate_bytes').map((m) => m.evidence!.kind)).not.toContain('clustered')
  })

  it('MySQL with performance_schema and a denied sys schema: unused indexes are not judged, and the gap gives the GRANT', async () => {
    const session = fakeSession('mysql', {...recorded, '@@optimizer_switch': [{optimizer_switch: 'use_index_extensions=on', performance_schema: 1}]}, [/sys\.schema_unused_indexes/, /innodb_index_stats/])
    const out = await indexHealthProbe.collect(session, ctx, undefined)
    expect(session.sent.some((q) => q.includes('IS_VISIBLE, EXPRESSION'))).toBe(true)
    expect(out.notRead?.map((g) => g.what)).toEqual(['unused indexes not judged', 'index sizes'])
    expect(out.notRead?.[0].fix).toMatch(/^GRANT SELECT ON sys\.\*/)
    expect(out.metrics.some((m) => m.name === 'db.index.unused_bytes')).toBe(false)
  })

  it('no table visible: a gap with the GRANT, never a clean bill', async () => {
    const session = fakeSession('mariadb', {...recorded, 'information_schema.STATISTICS': [], 'information_schema.TABLES': []})
    const out = await indexHealthProbe.collect(session, ctx, undefined)
    expect(out.metrics).toEqual([])
    expect(out.notRead?.find((g) => g.what === 'tables')?.fix).toMatch(/^GRANT SELECT ON `<database>`\.\*/)
  })

  it('reads the optimizer switch of either flavour', () => {
    expect(extendedKeysOn('index_merge=on,use_index_extensions=off')).toBe(false)
    expect(extendedKeysOn('extended_keys=off')).toBe(false)
    expect(extendedKeysOn('extended_keys=on')).toBe(true)
    expect(extendedKeysOn(undefined)).toBe(true)
  })
})
