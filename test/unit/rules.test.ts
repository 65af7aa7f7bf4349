import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {compileRule, loadRules, PACKAGE_ROOT, type RuleDefinition} from '../../src/core/rules.js'
import {classify, evaluateMetric} from '../../src/core/engine.js'
import {TEMPLATE_FILTERS, templateFilters} from '../../src/core/template.js'

const rules = loadRules()
const exampleRules = loadRules(join(PACKAGE_ROOT, 'examples', 'chokepoint-plugin-example', 'rules'))

/** Every template string of a rule (message and each remedy field), with the remedy field it sits in. */
function templates(rule: RuleDefinition): Array<{field: string; text: string}> {
  const out = [{field: 'message', text: rule.message}]
  const walk = (field: string, v: unknown) => {
    if (typeof v === 'string') out.push({field, text: v})
    else if (Array.isArray(v)) v.forEach((x) => walk(field, x))
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) if (k !== 'when') walk(field === 'message' ? k : field, x)
  }
  for (const remedy of rule.remedies) for (const [k, v] of Object.entries(remedy)) if (k !== 'when') walk(k, v)
  return out
}

const QUOTING_FILTERS = ['ident', 'qualified', 'literal', 'shell', 'int']
/**
 * Evidence fields a probe builds as a whole statement or command with its own quoting, which a template passes on
 * as they are: dropSql (indexes: quoteQualified; replication slots: quoteLiteral), recreateSql (pg_get_indexdef,
 * which quotes; MySQL: backticks by quoteMysqlIdent), inspectCommand (queue probes: each key or name through a shell
 * quoting helper), primaryKeySql (MySQL index health: quoteMysqlIdent).
 */
const PRE_QUOTED = ['evidence.dropSql', 'evidence.recreateSql', 'evidence.inspectCommand', 'evidence.primaryKeySql']

describe('remedy templates are safe to paste', () => {
  for (const rule of [...rules, ...exampleRules]) {
    it(`${rule.id}: names no unknown filter, and interpolates into sql and command only through a quoting filter`, () => {
      for (const {field, text} of templates(rule)) {
        const uses = templateFilters(text)
        for (const u of uses) if (u.filter) expect(TEMPLATE_FILTERS, `${rule.id} ${field}: ${text}`).toContain(u.filter)
        if (field !== 'sql' && field !== 'command') continue
        const passedOn = uses.length === 1 && !uses[0].filter && text.trim() === `{{${uses[0].path}}}` && PRE_QUOTED.includes(uses[0].path)
        if (passedOn) continue
        for (const u of uses) expect(QUOTING_FILTERS, `${rule.id} ${field} interpolates {{${u.path}}} bare: ${text}`).toContain(u.filter)
      }
    })
  }
})

describe('shipped rules', () => {
  it('load, parse and have unique ids', () => {
    expect(rules.length).toBeGreaterThan(8)
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length)
  })

  for (const rule of rules) {
    describe(rule.id, () => {
      it('documents itself', () => {
        expect(rule.docs.length, `${rule.file} needs docs`).toBeGreaterThan(20)
        expect(rule.description.length).toBeGreaterThan(10)
      })
      if (rule.evaluator !== 'metric') return
      it('has test cases that show it firing and staying quiet', () => {
        expect(rule.tests.some((t) => t.expect === 'ok'), `${rule.file}: add a case that stays quiet`).toBe(true)
        expect(rule.tests.some((t) => t.expect !== 'ok'), `${rule.file}: add a case that fires`).toBe(true)
      })
      const effective = compileRule(rule, {})
      for (const tc of rule.tests) {
        it(`value ${tc.value} -> ${tc.expect}`, () => {
          expect(classify(effective, tc.value, tc.evidence)).toBe(tc.expect)
          const finding = evaluateMetric(effective, 't', {name: rule.metric!, value: tc.value, subject: 's', evidence: tc.evidence})
          if (tc.expect === 'ok') expect(finding).toBeUndefined()
          else {
            expect(finding?.severity).toBe(tc.expect)
            expect(finding?.message).not.toMatch(/\{\{|n\/a/)
          }
        })
      }
    })
  }
})
