import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BUILTIN_KINDS} from '../../../src/builtin.js'
import {KINDS_TABLE_END, KINDS_TABLE_START, kindsTable} from '../../../src/cli/kinds-table.js'
import {PACKAGE_ROOT} from '../../../src/core/rules.js'

describe('target kinds as data', () => {
  it('the README table is the one the definitions generate (npm run docs rewrites it)', () => {
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf(KINDS_TABLE_START), readme.indexOf(KINDS_TABLE_END) + KINDS_TABLE_END.length)
    expect(section).toBe(kindsTable(BUILTIN_KINDS))
  })

  it('the report schema lists the built-in kinds as its examples', () => {
    const schema = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'schemas', 'report.schema.json'), 'utf8'))
    expect(schema.definitions.target.properties.kind.examples).toEqual(BUILTIN_KINDS.map((k) => k.kind))
  })

  it('every kind with a flag gets its CLI flag', async () => {
    const {targetFlags} = await import('../../../src/cli/flags.js')
    for (const kind of BUILTIN_KINDS) if (kind.flag) expect(targetFlags).toHaveProperty(kind.flag)
  })
})
