import {beforeAll, describe, expect, it} from 'vitest'
import {renderMarkdown} from '../../../src/reporters/markdown.js'
import {contextOf, sampleReport} from './fixture.js'

describe('markdown reporter', () => {
  let text = ''
  beforeAll(async () => {
    text = await renderMarkdown(contextOf(sampleReport(), {color: false, verbose: false}))
  })

  it('leads with the verdict and keeps every table row intact', async () => {
    expect(text.split('\n')[0]).toBe('## ❌ chokepoint: gate failed (--fail-on critical): 1 critical, 1 warning, 1 info')
    const rows = text.split('\n').filter((l) => /^\| \d+ \| 🟠/.test(l))
    expect(rows).toHaveLength(1)
    // A pipe inside a message must not add a column.
    expect(rows[0].split(/(?<!\\)\|/).length).toBe(9)
    expect(rows[0]).toContain('index \\| with pipe is unused')
  })

  it('folds remedies with fenced SQL, and lists what was not read', async () => {
    expect(text).toMatch(/<details><summary>#2 🟠 <code>database\/unused-index<\/code>/)
    expect(text).toMatch(/```sql\n\s*DROP INDEX CONCURRENTLY/)
    expect(text).toMatch(/- primary `postgres.statements`: skipped: pg_stat_statements is not installed/)
  })
})
