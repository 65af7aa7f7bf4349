import {describe, expect, it} from 'vitest'
import {finishRemedy, REMEDY_IDENTITY, REMEDY_KINDS, remedyId} from '../../../src/core/remedies.js'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {PACKAGE_ROOT} from '../../../src/core/rules.js'

const index = {kind: 'index' as const, summary: 'index orders (customer_id)', table: 'public.orders', columns: ['customer_id'], method: 'btree', where: null, include: []}

describe('remedy ids', () => {
  it('are stable across field order, wording and estimates', () => {
    const reordered = {include: [], where: null, method: 'btree', columns: ['customer_id'], table: 'public.orders', kind: 'index' as const, summary: 'other words'}
    expect(remedyId(index, 'db')).toBe(remedyId(reordered, 'db'))
    expect(remedyId(index, 'db')).toMatch(/^index-[0-9a-f]{12}$/)
  })

  it('differ by what the remedy does and where', () => {
    const wider = {...index, columns: ['customer_id', 'created_at']}
    expect(remedyId(index, 'db')).not.toBe(remedyId(wider, 'db'))
    expect(remedyId(index, 'db')).not.toBe(remedyId(index, 'other-db'))
    // Identity fields all absent: the summary keeps two different ones apart.
    expect(remedyId({kind: 'replica', summary: 'a'}, 'db')).not.toBe(remedyId({kind: 'replica', summary: 'b'}, 'db'))
  })

  it('come with the applier the registry names for the kind', () => {
    const done = finishRemedy({...index, sql: 'x', statements: [], verified: false, estimate: {costBefore: 1, costAfter: 1, queriesImproved: 0, sizeBytes: 1}},
      (kind) => (kind === 'index' ? 'pg-index' : null), 'db')
    expect(done).toMatchObject({applier: 'pg-index', id: remedyId(index, 'db')})
  })

  it('cover every remedy kind, and the report schema has a shape for each', () => {
    expect(Object.keys(REMEDY_IDENTITY).sort()).toEqual([...REMEDY_KINDS].sort())
    const schema = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'schemas', 'report.schema.json'), 'utf8'))
    expect(schema.definitions.remedy.properties.kind.enum).toEqual([...REMEDY_KINDS])
    for (const kind of REMEDY_KINDS) expect(schema.definitions[`remedy-${kind}`]).toBeDefined()
  })
})
