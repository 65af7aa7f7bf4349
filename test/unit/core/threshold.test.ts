import {describe, expect, it} from 'vitest'
import {compare, parseComparison} from '../../../src/core/threshold.js'
import {formatValue, parseDurationSeconds, parseQuantity} from '../../../src/core/units.js'

describe('quantities and thresholds', () => {
  it('parses the units people write into canonical values', () => {
    expect(parseQuantity('200ms')).toEqual({value: 0.2, unit: 'seconds'})
    expect(parseQuantity('80%')).toEqual({value: 0.8, unit: 'ratio'})
    expect(parseQuantity('1.5GB')).toEqual({value: 1.5 * 1024 ** 3, unit: 'bytes'})
    expect(parseQuantity('7d')).toEqual({value: 604_800, unit: 'seconds'})
    expect(parseQuantity('42')).toEqual({value: 42})
    expect(parseQuantity('fast')).toBeNull()
    expect(parseQuantity('10 parsecs')).toBeNull()
  })

  it('parses durations for --window and rejects other units', () => {
    expect(parseDurationSeconds('0')).toBe(0)
    expect(parseDurationSeconds('2m')).toBe(120)
    expect(parseDurationSeconds('10%')).toBeNull()
    expect(parseDurationSeconds('-1s')).toBeNull()
  })

  it('compares with every operator, at the boundary too', () => {
    const gt = parseComparison('> 500ms', 'seconds', 'x')
    expect(compare(0.5, gt)).toBe(false)
    expect(compare(0.501, gt)).toBe(true)
    expect(compare(0.8, parseComparison('>= 80%', 'ratio', 'x'))).toBe(true)
    expect(compare(0, parseComparison('== 0', undefined, 'x'))).toBe(true)
    expect(compare(1, parseComparison('!= 0', undefined, 'x'))).toBe(true)
  })

  it('names the key and the fix when a threshold is malformed', () => {
    expect(() => parseComparison('fast', 'seconds', 'rules.latency/p95.target')).toThrow(/rules\.latency\/p95\.target: expected a comparison like "> 500ms"/)
    expect(() => parseComparison('> soon', 'seconds', 'k')).toThrow(/no number after ">"/)
    expect(() => parseComparison('> 80%', 'seconds', 'k')).toThrow(/is in ratio but the metric is measured in seconds/)
  })

  it('formats values for messages in the unit a person expects', () => {
    expect(formatValue(0.2345, 'seconds')).toBe('235 ms')
    expect(formatValue(7.25, 'seconds')).toBe('7.25 s')
    expect(formatValue(0.931, 'ratio')).toBe('93.1%')
    expect(formatValue(5 * 1024 ** 2, 'bytes')).toBe('5 MB')
    expect(formatValue(null, 'ratio')).toBe('n/a')
  })
})
