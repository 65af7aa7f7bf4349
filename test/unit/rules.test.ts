import {describe, expect, it} from 'vitest'
import {compileRule, loadRules} from '../../src/core/rules.js'
import {classify, evaluateMetric} from '../../src/core/engine.js'

const rules = loadRules()

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
