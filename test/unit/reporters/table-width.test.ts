/**
 * The terminal table fits the terminal: at 80, 100 and 160 columns no line is wider (measured here, independently of
 * the reporter's own measure, with colour on and its codes stripped); below 120 columns one entry per finding, above
 * it the bordered table; a long target name goes by one short name everywhere; a wrapped SQL statement or shell
 * command still pastes as the same; a threshold the message already says, or an action at zero, is not repeated.
 */
import {describe, expect, it} from 'vitest'
import {renderTable} from '../../../src/reporters/table.js'
import type {Report} from '../../../src/core/types.js'
import {contextOf, sampleReport} from './fixture.js'

const LONG = 'postgres:db-primary.internal.example.com:5432/shop'
const SQL = `CREATE INDEX CONCURRENTLY "orders_customer_id_created_at_status_idx" ON "public"."orders" USING btree ("customer_id", "created_at", "status") INCLUDE ("total_amount", "currency") WHERE "deleted_at" IS NULL AND "status" <> 'cancelled by the customer before payment';`
const COMMAND = "redis-cli -h cache.internal.example.com -p 6379 --scan --pattern 'session:*' --no-raw --user 'app reader with spaces' | xargs -n 100 redis-cli -h cache.internal.example.com -p 6379 EXPIRE 3600"

// Wide characters (CJK, emoji) take two columns; colour codes none.
const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\uff00-\uff60\u{1f300}-\u{1faff}]/u
function columnsOf(line: string): number {
  // eslint-disable-next-line no-control-regex
  return [...line.replace(/\u001b\[[0-9;]*m/g, '')].reduce((n, ch) => n + (WIDE.test(ch) ? 2 : 1), 0)
}

function richReport(): Report {
  const report = sampleReport()
  report.targets.push({name: LONG, kind: 'postgres', url: `postgres://app:<password removed>@db-primary.internal.example.com:5432/shop?sslmode=verify-full&application_name=orders-service`, status: 'ok'})
  report.findings.push(
    {id: 'd4', rule: 'database/working-set-exceeds-cache', severity: 'critical', area: 'database', target: LONG, subject: 'table public.orders_archive_partition_2026_11_with_a_long_name',
      metric: 'db.cache.hit_ratio', value: 0.42, threshold: {target: '>= 99%', action: '< 90%'},
      message: 'only 42% of reads of public.orders_archive_partition_2026_11_with_a_long_name hit the cache (< 90%)', evidence: {}, causeId: undefined,
      remedies: [{id: 'index-000000000004', kind: 'index', summary: 'Index orders by customer, date and status for the three lookups that scan it', applier: null,
        table: 'public.orders', columns: ['customer_id', 'created_at', 'status'], sql: SQL} as never]},
    {id: 'e5', rule: 'cache/ttl', severity: 'warning', area: 'cache', target: 'primary', subject: 'pattern セッション:* 🔑 sessions without a TTL of any kind at all',
      metric: 'cache.ttl', value: 0, threshold: {target: null, action: '>= 0B'}, message: 'keys of this pattern never expire', evidence: {},
      remedies: [{id: 'ttl-000000000005', kind: 'ttl', summary: 'Give them a TTL', applier: null, command: COMMAND} as never]},
  )
  report.diagnosis = [{id: 'diag-d4', rank: 1, cause: 'd4', rule: 'database/working-set-exceeds-cache', target: LONG, severity: 'critical',
    summary: report.findings[3].message, explains: ['c3'], share: 0.62,
    weight: {basis: 'database-time', value: 620, total: 1000, unit: 'ms', measuredBy: 'pg_stat_database: block read time 620 ms of 1000 ms active time over the window'},
    remedy: 'index-000000000004'}]
  report.findings[2].causeId = 'd4'
  return report
}

describe('table reporter: fits the terminal', () => {
  for (const width of [80, 100, 160]) {
    it(`no line is wider than ${width} columns`, async () => {
      const text = await renderTable(contextOf(richReport(), {color: true, verbose: true, width}))
      const lines = text.replace(/\n$/, '').split('\n')
      const wide = lines.filter((l) => columnsOf(l) > width)
      expect(wide, wide.join('\n')).toEqual([])
      // Compact below 120 columns (no borders), the bordered table above.
      if (width < 120) expect(text).not.toMatch(/[│┌┐]/)
      else expect(text).toMatch(/┌/)
    })
  }

  it('lists one entry per finding below 120 columns: number, severity, subject (target), message', async () => {
    const text = await renderTable(contextOf(richReport(), {width: 100}))
    expect(text).toMatch(/^\[1\] critical table public\.orders_archive_partition_2026_11_with_a_long_name/m)
    expect(text.replace(/\s+/g, ' ')).toContain('[1] critical table public.orders_archive_partition_2026_11_with_a_long_name (postgres:d…5432/shop): only 42%')
    // The symptom under its cause, indented.
    expect(text).toMatch(/^ {2}└ \[2\] info x \(primary\): advice/m)
    expect(text).toMatch(/^\[3\] critical replica-1 \(primary\)/m)
  })

  it('shortens a long target name the same way everywhere, with the full name listed once', async () => {
    for (const width of [80, 160]) {
      const text = await renderTable(contextOf(richReport(), {width}))
      const flowing = text.replace(/[│┌┐└┘├┤┬┴┼─]/g, ' ').replace(/\s+/g, ' ')
      expect(flowing.split(LONG)).toHaveLength(2)
      expect(text.split('postgres:d…5432/shop').length).toBeGreaterThanOrEqual(3)
    }
  })

  it.each([60, 72, 80, 100])('wraps SQL and shell commands only where a paste still runs the same (%i columns)', async (width) => {
    const text = await renderTable(contextOf(richReport(), {width}))
    const lines = text.split('\n')
    const start = lines.findIndex((l) => l.trim().startsWith('CREATE INDEX CONCURRENTLY'))
    const sqlLines = lines.slice(start, lines.findIndex((l, i) => i >= start && l.endsWith(';')) + 1)
    expect(sqlLines.length).toBeGreaterThan(1)
    expect(sqlLines.map((l) => l.trim()).join(' ')).toBe(SQL)
    // No break inside a quoted literal or identifier (a newline there would change it): quotes balance per line.
    for (const l of sqlLines) expect((l.match(/'/g) ?? []).length % 2 + (l.match(/"/g) ?? []).length % 2, l).toBe(0)
    const cmdStart = lines.findIndex((l) => l.trim().startsWith('redis-cli -h'))
    const cmdLines: string[] = []
    for (let i = cmdStart; ; i++) {
      cmdLines.push(lines[i])
      if (!lines[i].endsWith(' \\')) break
    }
    expect(cmdLines.length).toBeGreaterThan(1)
    // What a shell makes of it: each backslash-newline and the indent after it is one space.
    expect(cmdLines.join('\n').replace(/ \\\n\s+/g, ' ').trim()).toBe(COMMAND)
    for (const l of cmdLines) expect((l.match(/'/g) ?? []).length % 2, l).toBe(0)
  })

  it('shows only the part of a threshold the message does not say', async () => {
    const text = await renderTable(contextOf(richReport(), {width: 160}))
    expect(text).not.toMatch(/act >= 0B/)
    // "< 90%" is in the message: only the target band is left to say.
    expect(text).toMatch(/target >= 99%/)
    expect(text).not.toMatch(/act < 90%/)
    expect(text).toMatch(/target >= 80%, act < 70%/)
  })
})
