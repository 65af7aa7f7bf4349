import {describe, expect, it} from 'vitest'
import {round} from '../../../src/core/numbers.js'

describe('round', () => {
  it('keeps three decimals unless told otherwise', () => {
    expect(round(1.23456)).toBe(1.235)
    expect(round(1.23456, 1)).toBe(1.2)
    expect(round(1234.5678, 0)).toBe(1235)
    expect(round(-0.0004)).toBe(-0)
  })
})
