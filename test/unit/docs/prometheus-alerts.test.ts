import {spawnSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'
import {WatchMetrics} from '../../../src/core/watch-metrics.js'

const EXAMPLES = resolve(import.meta.dirname, '../../../docs/examples')
const RULES = resolve(EXAMPLES, 'prometheus-alerts.yaml')
const RULES_TEST = resolve(EXAMPLES, 'prometheus-alerts.test.yaml')

function promtool(...args: string[]): {status: number | null; output: string} {
  const run = spawnSync('promtool', args, {cwd: EXAMPLES, encoding: 'utf8'})
  return {status: run.status, output: `${run.stdout}${run.stderr}`}
}

interface AlertRule {alert: string; expr: string; for?: string}

const alerts = (): AlertRule[] => (parse(readFileSync(RULES, 'utf8')) as {groups: Array<{rules: AlertRule[]}>}).groups.flatMap((g) => g.rules)

describe('docs/examples/prometheus-alerts.yaml', () => {
  it('is valid for promtool check rules', () => {
    const {status, output} = promtool('check', 'rules', RULES)
    expect(output).toMatch(/SUCCESS: \d+ rules found/)
    expect(status).toBe(0)
  })

  it('passes its promtool unit tests (firing, not firing before `for:`, resolving), and every alert has some', () => {
    const {status, output} = promtool('test', 'rules', RULES_TEST)
    expect(output).toContain('SUCCESS')
    expect(status).toBe(0)
    const tested = new Set((parse(readFileSync(RULES_TEST, 'utf8')) as {tests: Array<{alert_rule_test?: Array<{alertname: string}>}>}).tests
      .flatMap((t) => t.alert_rule_test ?? []).map((t) => t.alertname))
    expect(alerts().map((a) => a.alert).filter((name) => !tested.has(name))).toEqual([])
  })

  it('uses only metrics watch serves, by their names today', async () => {
    const served = new Set((await new WatchMetrics().registry.getMetricsAsJSON()).map((m) => m.name))
    const used = alerts().flatMap((a) => [...a.expr.matchAll(/\bchokepoint_[a-z_]+/g)].map((m) => m[0]))
    const family = (name: string) => name.replace(/_(sum|count|bucket)$/, '')
    expect(used.length).toBeGreaterThan(0)
    expect(used.filter((name) => !served.has(name) && !served.has(family(name)))).toEqual([])
  })
})
