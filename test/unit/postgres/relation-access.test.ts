import {beforeAll, describe, expect, it} from 'vitest'
import {ensureParser} from '../../../src/knowledge/postgres/workload.js'
import {accessAnswers, distinctUses, refusal, relationUses} from '../../../src/probes/postgres/relation-access.js'

describe('relationUses', () => {
  beforeAll(() => ensureParser())

  it('names the DML target with its privilege and every other relation as read, but not CTEs', () => {
    expect(relationUses('UPDATE app.orders o SET total = 0 FROM users u WHERE u.id = o.user_id')).toEqual([
      {schema: 'app', name: 'orders', privilege: 'UPDATE'},
      {schema: undefined, name: 'users', privilege: 'SELECT'},
    ])
    expect(relationUses('WITH recent AS (SELECT * FROM events) INSERT INTO archive SELECT * FROM recent')).toEqual([
      {schema: undefined, name: 'archive', privilege: 'INSERT'},
      {schema: undefined, name: 'events', privilege: 'SELECT'},
    ])
    expect(relationUses('DELETE FROM "Line Items" WHERE id IN (SELECT id FROM stale)')?.map((u) => `${u.privilege} ${u.name}`)).toEqual(['DELETE Line Items', 'SELECT stale'])
    expect(relationUses('MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE')).toEqual([
      {schema: undefined, name: 't', privilege: undefined},
      {schema: undefined, name: 's', privilege: 'SELECT'},
    ])
    expect(relationUses('SELEC nonsense')).toBeUndefined()
  })

  it('refuses a statement for the first use the catalog answered no to, and leaves the rest to EXPLAIN', () => {
    const a = relationUses('SELECT * FROM ok JOIN nope ON true')
    const b = relationUses('SELECT * FROM ok')
    const uses = distinctUses([a, b])
    expect(uses).toHaveLength(2)
    const answers = accessAnswers(uses, [{usage: true, found: true, allowed: true}, {usage: true, found: true, allowed: false}])
    expect(refusal(a, answers, 'monitor')).toBe('permission denied for table nope: EXPLAIN needs what the statement needs (GRANT SELECT ON nope TO monitor, or audit as a role that may)')
    expect(refusal(b, answers, 'monitor')).toBeUndefined()
    expect(refusal(undefined, answers, 'monitor')).toBeUndefined()
  })
})
