// The build bundles rules/**/*.yaml into dist/rules.json (scripts/compile-rules.mjs calls writeCompiledRules).
// These tests compile into a temporary file, so they need no prior build and leave dist/ alone, and check the
// bundle against the YAML files read here, independently of the compiler's own file walk.
import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {parse} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {DEFAULT_RULES_DIR, PACKAGE_ROOT, parseRule, readCompiled, writeCompiledRules, type RuleDefinition} from '../../../src/core/rules.js'

interface Bundle {
  files: Record<string, number>
  rules: RuleDefinition[]
}

/** Every rule file under rules/, as the repository holds them (test cases in *.test.yaml are not rules). */
function yamlRuleFiles(): Array<{file: string; raw: Record<string, unknown>}> {
  return readdirSync(DEFAULT_RULES_DIR, {recursive: true, encoding: 'utf8'})
    .filter((f) => /\.ya?ml$/.test(f) && !/\.test\.ya?ml$/.test(f))
    .sort()
    .map((f) => {
      const full = join(DEFAULT_RULES_DIR, f)
      return {file: relative(PACKAGE_ROOT, full), raw: parse(readFileSync(full, 'utf8')) as Record<string, unknown>}
    })
}

let dir: string
let bundleFile: string
let bundle: Bundle
const fromYaml = yamlRuleFiles()

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chokepoint-compiled-rules-'))
  bundleFile = join(dir, 'rules.json')
  const count = writeCompiledRules(bundleFile)
  bundle = JSON.parse(readFileSync(bundleFile, 'utf8')) as Bundle
  expect(count).toBe(bundle.rules.length)
})

afterAll(() => rmSync(dir, {recursive: true, force: true}))

describe('rules compiled at build time', () => {
  it('bundle exactly one rule per YAML file in rules/, none dropped or added', () => {
    expect(fromYaml.length).toBeGreaterThan(30)
    expect(bundle.rules.map((r) => r.file).sort()).toEqual(fromYaml.map((y) => y.file))
    expect(bundle.rules.map((r) => r.id).sort()).toEqual(fromYaml.map((y) => String(y.raw.id)).sort())
    expect(Object.keys(bundle.files).sort()).toEqual(fromYaml.map((y) => y.file))
  })

  it('bundle each rule as its YAML file defines it', () => {
    const byFile = new Map(bundle.rules.map((r) => [r.file, r]))
    for (const {file, raw} of fromYaml) {
      const compiled = byFile.get(file)
      expect(compiled, file).toBeDefined()
      // Every field written in the YAML reaches the bundle with its value...
      for (const [key, value] of Object.entries(raw)) {
        const want = typeof value === 'string' ? value.trim() : value
        const got = (compiled as unknown as Record<string, unknown>)[key]
        expect(typeof got === 'string' ? got.trim() : got, `${file}: ${key}`).toEqual(want)
      }
      // ...and the rule is the one a direct read of that file gives (JSON drops undefined fields; toEqual ignores them).
      expect(compiled, file).toEqual(parseRule(raw, file))
    }
  })

  it('are what loadRules serves while the rule files are as they were at build time', () => {
    expect(readCompiled(DEFAULT_RULES_DIR, bundleFile)).toEqual(bundle.rules)
  })

  it('are ignored as soon as a rule file changes or appears, so an edited rule is never shadowed by a stale bundle', () => {
    const [first] = Object.keys(bundle.files)
    const edited = join(dir, 'edited.json')
    writeFileSync(edited, JSON.stringify({...bundle, files: {...bundle.files, [first]: bundle.files[first] - 5000}}))
    expect(readCompiled(DEFAULT_RULES_DIR, edited)).toBeUndefined()
    const {[first]: _dropped, ...others} = bundle.files
    const added = join(dir, 'added.json')
    writeFileSync(added, JSON.stringify({...bundle, files: others}))
    expect(readCompiled(DEFAULT_RULES_DIR, added)).toBeUndefined()
  })
})
