/**
 * The path verdict's choice from the advisors' assessments (evidence.scaling): the order the paths are taken in,
 * healthy only when every database was weighed, and how reporters show it. The real workloads behind each path are
 * test/integration/advisor/path-verdict.test.ts and the scaling advisors' own tests.
 */
import {describe, expect, it} from 'vitest'
import {assessmentOf, pathVerdict} from '../../../src/core/verdict.js'
import type {Finding, ScalingAssessment, TargetInfo} from '../../../src/core/types.js'
import {renderMarkdown} from '../../../src/reporters/markdown.js'
import {renderTable} from '../../../src/reporters/table.js'
import {contextOf, sampleReport} from '../reporters/fixture.js'

const db: TargetInfo = {name: 'db', kind: 'postgres', url: 'postgres://db/shop', status: 'ok', facts: {role: 'primary'}}
const standby: TargetInfo = {name: 'db-replica', kind: 'postgres', url: 'postgres://replica/shop', status: 'ok', facts: {role: 'standby'}}
const noGaps = {skipped: [], notRead: []}

function finding(id: string, scaling: Partial<ScalingAssessment> & Pick<ScalingAssessment, 'path' | 'warranted'>, target = 'db'): Finding {
  return {id, rule: `database/${id}`, severity: 'info', area: 'database', target, subject: id, metric: 'm', value: null,
    threshold: {target: null, action: null}, message: id, remedies: [],
    evidence: {scaling: {share: null, decidedBy: `${id} decided`, wouldChange: `${id} would change`, ...scaling}}}
}

describe('the path verdict', () => {
  it('takes the first path called for, in the order indexes, cache, replicas, distributed SQL', () => {
    const all = [
      finding('shard', {path: 'distributed-sql', warranted: true, share: 0.9}),
      finding('replica', {path: 'read-replicas', warranted: true, share: 0.8}),
      finding('cache', {path: 'cache-centric', warranted: true, share: 0.6}),
      finding('index', {path: 'indexes', warranted: false, share: 0.1}),
    ]
    const v = pathVerdict(all, [db], noGaps)
    expect(v.path).toBe('cache-centric')
    expect(v.share).toBe(0.6)
    expect(v.decidedBy).toBe('cache decided')
    // The later paths called for are named, so a reader sees what comes after.
    expect(v.wouldChange).toMatch(/^cache would change\. Also called for, after it: read replicas; distributed SQL/)
    expect(v.wouldChange).toContain('read replicas')
    expect(v.wouldChange).toContain('distributed SQL')
    expect(v.considered.map((c) => c.path)).toEqual(['indexes', 'cache-centric', 'read-replicas', 'distributed-sql'])

    expect(pathVerdict([...all, finding('index2', {path: 'indexes', warranted: true, share: 0.7})], [db], noGaps).path).toBe('indexes')
    expect(pathVerdict(all.filter((f) => f.id !== 'cache'), [db], noGaps).path).toBe('read-replicas')
    expect(pathVerdict([all[0], all[3]], [db], noGaps).path).toBe('distributed-sql')
  })

  it('is healthy only when every primary was weighed and nothing is called for', () => {
    const weighed = [finding('index', {path: 'indexes', warranted: false, share: 0.02, wouldChange: 'indexes saving half the time'})]
    const v = pathVerdict(weighed, [db, standby], noGaps)
    expect(v.path).toBe('healthy')
    expect(v.decidedBy).toContain('index decided')
    expect(v.wouldChange).toBe('indexes saving half the time')
  })

  it('is not assessed, with the reason, when a database was not weighed or there is none', () => {
    const gaps = {skipped: [{target: 'db', probe: 'postgres.statements', status: 'skipped' as const, reason: 'pg_stat_statements is not installed'}], notRead: []}
    const v = pathVerdict([], [db], gaps)
    expect(v.path).toBe('not-assessed')
    expect(v.decidedBy).toContain('pg_stat_statements is not installed')
    expect(pathVerdict([], [{...db, status: 'error', error: 'connection refused'}], noGaps).decidedBy).toContain('connection refused')
    expect(pathVerdict([], [{name: 'cache', kind: 'redis', url: 'redis://x', status: 'ok'}], noGaps).decidedBy).toMatch(/no postgres target was audited/)
    // One database weighed and healthy, another not weighed: not healthy.
    const two = pathVerdict([finding('index', {path: 'indexes', warranted: false})], [db, {...db, name: 'db2'}], noGaps)
    expect(two.path).toBe('not-assessed')
    expect(two.target).toBe('db2')
  })

  it('lists one assessment per target, rule and path, however many findings carry it', () => {
    const twice = [finding('cache', {path: 'cache-centric', warranted: true, share: 0.4}), {...finding('cache', {path: 'cache-centric', warranted: true, share: 0.4}), id: 'cache-2'},
      finding('cache', {path: 'cache-centric', warranted: true, share: 0.4}, 'db2')]
    const v = pathVerdict(twice, [db, {...db, name: 'db2'}], noGaps)
    expect(v.considered.map((c) => [c.target, c.finding])).toEqual([['db', 'cache'], ['db2', 'cache']])
  })

  it('ignores malformed assessments', () => {
    expect(assessmentOf(finding('x', {path: 'sideways' as never, warranted: true}))).toBeUndefined()
    expect(assessmentOf({...finding('x', {path: 'indexes', warranted: true}), evidence: {scaling: {path: 'indexes'}}})).toBeUndefined()
  })

  it('heads the table and Markdown reports', () => {
    const v = pathVerdict([finding('index', {path: 'indexes', warranted: true, share: 0.75})], [db], noGaps)
    const report = sampleReport({verdict: v})
    const table = renderTable(contextOf(report, {width: 140})) as string
    expect(table).toContain('Scaling path: fix the indexes first (db, 75% of statement time)')
    expect(table).toContain('because index decided')
    expect(table.indexOf('Scaling path')).toBeLessThan(table.indexOf('database/unused-index'))
    const md = renderMarkdown(contextOf(report)) as string
    expect(md).toContain('**Scaling path: fix the indexes first (db, 75% of statement time)**: index decided.')
  })
})
