import {describe, expect, it} from 'vitest'
import {lookupPath} from '../../../src/core/lookup.js'

describe('lookupPath', () => {
  it('follows dotted paths and stops at anything that is not an object', () => {
    const obj = {evidence: {sizeBytes: 8192, nested: {flag: false}}, list: [10, 20], text: 'abc'}
    expect(lookupPath(obj, 'evidence.sizeBytes')).toBe(8192)
    expect(lookupPath(obj, 'evidence.nested.flag')).toBe(false)
    expect(lookupPath(obj, 'list.1')).toBe(20)
    expect(lookupPath(obj, 'evidence.missing.deeper')).toBeUndefined()
    expect(lookupPath(obj, 'text.length')).toBeUndefined()
    expect(lookupPath(undefined, 'a')).toBeUndefined()
    expect(lookupPath(null, 'a')).toBeUndefined()
  })
})
