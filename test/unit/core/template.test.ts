import {describe, expect, it} from 'vitest'
import {renderStructured, renderTemplate, type TemplateScope} from '../../../src/core/template.js'

const scope: TemplateScope = {
  value: 0.93, unit: 'ratio', subject: 'max_connections', target: 'primary',
  threshold: {target: '<= 80%', action: '> 90%'},
  evidence: {idle: 71, sizeBytes: 3 * 1024 ** 2, columns: ['a', 'b'], stage: 'replay', lagSeconds: 12},
}

describe('templates', () => {
  it('renders placeholders with units and filters', () => {
    expect(renderTemplate('{{subject}} is {{value}} used ({{threshold.action}})', scope)).toBe('max_connections is 93% used (> 90%)')
    expect(renderTemplate('{{evidence.sizeBytes|bytes}} / {{evidence.lagSeconds|seconds}} / {{evidence.idle|count}}', scope)).toBe('3 MB / 12 s / 71')
    expect(renderTemplate('{{evidence.missing}}', scope)).toBe('n/a')
  })

  it('keeps the raw type when a structured field is a single placeholder', () => {
    expect(renderStructured({columns: '{{evidence.columns}}', n: '{{evidence.idle}}', text: 'stage {{evidence.stage}}'}, scope))
      .toEqual({columns: ['a', 'b'], n: 71, text: 'stage replay'})
  })
})
