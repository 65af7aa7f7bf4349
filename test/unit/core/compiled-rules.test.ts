import {statSync, utimesSync} from 'node:fs'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {DEFAULT_RULES_DIR, PACKAGE_ROOT, loadRules, readCompiled, writeCompiledRules} from '../../../src/core/rules.js'

const someRule = join(PACKAGE_ROOT, 'rules', 'queue', 'depth.yaml')
const original = statSync(someRule).mtime

describe('rules compiled at build time', () => {
  afterEach(() => {
    utimesSync(someRule, original, original)
    writeCompiledRules()
  })

  it('bundle the same rules the YAML files define', () => {
    writeCompiledRules()
    expect(readCompiled(DEFAULT_RULES_DIR)).toEqual(loadRules())
  })

  it('are ignored as soon as a rule file changes, so an edited rule is never shadowed by a stale bundle', () => {
    writeCompiledRules()
    const later = new Date(original.getTime() + 5000)
    utimesSync(someRule, later, later)
    expect(readCompiled(DEFAULT_RULES_DIR)).toBeUndefined()
  })
})
