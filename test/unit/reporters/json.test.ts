import {describe, expect, it} from 'vitest'
import {renderReport} from '../../../src/core/render.js'
import {testContext} from '../../helpers/context.js'
import {renderJson} from '../../../src/reporters/json.js'
import {contextOf, sampleReport} from './fixture.js'

describe('json reporter', () => {
  it('round-trips the report exactly', async () => {
    expect(JSON.parse(await renderJson(contextOf(sampleReport(), {color: false, verbose: false})))).toEqual(sampleReport())
  })

  it('is scrubbed of registered secrets on the way out, whatever a finding carries', async () => {
    const ctx = testContext()
    ctx.secrets.register('leaked-in-evidence')
    const report = sampleReport()
    report.findings[0].evidence = {error: 'FATAL: password leaked-in-evidence rejected'}
    const text = await renderReport(report, 'json', ctx)
    expect(text).not.toContain('leaked-in-evidence')
    expect(text).toContain('password *** rejected')
  })
})
