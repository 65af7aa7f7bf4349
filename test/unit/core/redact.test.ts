import {describe, expect, it} from 'vitest'
import {redactUrl, registerSecret, scrubSecrets} from '../../../src/core/redact.js'

describe('secrets', () => {
  it('removes the password from URLs and remembers it', () => {
    expect(redactUrl('postgres://app:pa%24%24word@db:5432/shop')).toBe('postgres://app:<password removed>@db:5432/shop')
    expect(scrubSecrets('login failed for pa$$word and pa%24%24word')).toBe('login failed for *** and ***')
    expect(redactUrl('redis://:onlypass@cache:6379/0')).toBe('redis://:<password removed>@cache:6379/0')
    expect(redactUrl('http://prom:9090/?token=t0ken-value')).not.toContain('t0ken-value')
  })

  it('scrubs credentials from URLs it was never told about', () => {
    expect(scrubSecrets('connect amqp://guest:unseen-secret@mq:5672 failed')).toBe('connect amqp://guest:<password removed>@mq:5672 failed')
  })

  it('leaves URLs without a password alone', () => {
    expect(redactUrl('postgres://app@db:5432/shop')).toBe('postgres://app@db:5432/shop')
    registerSecret('ab') // too short to scrub safely from prose
    expect(scrubSecrets('table ab')).toBe('table ab')
  })
})
