import {describe, expect, it} from 'vitest'
import {renderReport} from '../../../src/reporters/index.js'
import {renderJson} from '../../../src/reporters/json.js'
import {registerSecret} from '../../../src/core/redact.js'
import {sampleReport} from './fixture.js'

describe('json reporter', () => {
  it('round-trips the report exactly', () => {
    expect(JSON.parse(renderJson(sampleReport(), {color: false, verbose: false}))).toEqual(sampleReport())
  })

  it('is scrubbed of registered secrets on the way out, whatever a finding carries', async () => {
    registerSecret('leaked-in-evidence')
    const report = sampleReport()
    report.findings[0].evidence = {error: 'FATAL: password leaked-in-evidence rejected'}
    const text = await renderReport(report, 'json')
    expect(text).not.toContain('leaked-in-evidence')
    expect(text).toContain('password *** rejected')
  })
})
