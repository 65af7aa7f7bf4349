import {describe, expect, it} from 'vitest'
import {formatNumber, percent, round} from '../../../src/core/numbers.js'

describe('round', () => {
  it('keeps three decimals unless told otherwise', () => {
    expect(round(1.23456)).toBe(1.235)
    expect(round(1.23456, 1)).toBe(1.2)
    expect(round(1234.5678, 0)).toBe(1235)
    expect(round(-0.0004)).toBe(-0)
  })
})

describe('percent and formatNumber: the advisors\' sentence formats', () => {
  it('writes a ratio as a percentage to one decimal, n/a when not measured', () => {
    expect(percent(0.7)).toBe('70%')
    expect(percent(0.12345)).toBe('12.3%')
    expect(percent(null)).toBe('n/a')
  })

  it('groups thousands from 100, keeps two decimals from 1 and four under', () => {
    expect(formatNumber(1461.4)).toBe('1,461')
    expect(formatNumber(1_234_567)).toBe('1,234,567')
    expect(formatNumber(2.4949)).toBe('2.49')
    expect(formatNumber(0.012345)).toBe('0.0123')
  })
})
