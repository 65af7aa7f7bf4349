import {describe, expect, it} from 'vitest'
import {metricValue, sampleFromMetrics, slope, steadyState, type Sample} from '../../../bench/watch-steady/analyse.js'

const MB = 1024 * 1024

const exposition = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
process_resident_memory_bytes 104857600
nodejs_heap_size_used_bytes 20971520
nodejs_heap_size_used_bytes_extra 1
nodejs_external_memory_bytes 1048576
chokepoint_up{target="pg1"} 1
chokepoint_up{target="redis1"} 0
chokepoint_up{target="redis2"} 1
chokepoint_audit_duration_seconds_count 7
`

function samples(n: number, rss: (minute: number) => number, heap: (minute: number) => number = () => 30 * MB, external: (minute: number) => number = () => 50 * MB): Sample[] {
  return Array.from({length: n}, (_, i) => ({atSeconds: 60 * i, rssBytes: rss(i), heapUsedBytes: heap(i), externalBytes: external(i), cpuSeconds: 5 + 0.6 * i, audits: i + 1, targetsUp: 10}))
}

describe('watch-steady analysis', () => {
  it('reads a series by its exact name, summing over labels', () => {
    expect(metricValue(exposition, 'nodejs_heap_size_used_bytes')).toBe(20 * MB)
    expect(metricValue(exposition, 'chokepoint_up')).toBe(2)
    expect(metricValue(exposition, 'absent')).toBeUndefined()
    expect(sampleFromMetrics(exposition, 3)).toEqual({atSeconds: 3, rssBytes: 100 * MB, heapUsedBytes: 20 * MB, externalBytes: MB, cpuSeconds: 12.5, audits: 7, targetsUp: 2})
    expect(sampleFromMetrics('chokepoint_up 1\n', 3)).toBeUndefined()
  })

  it('fits a least-squares slope', () => {
    expect(slope([[0, 1], [1, 3], [2, 5]])).toBeCloseTo(2, 10)
    expect(slope([[0, 1], [1, 0], [2, 1]])).toBeCloseTo(0, 10)
    expect(slope([[1, 1]])).toBe(0)
  })

  it('gives CPU as a share of one core from the counter over wall time', () => {
    // 0.6 CPU seconds a minute is 1% of a core.
    expect(steadyState(samples(10, () => 100 * MB)).cpuPercentOfCore).toBeCloseTo(1, 5)
  })

  it('says memory is flat when it only swings, and grows when it climbs steadily', () => {
    const flat = steadyState(samples(10, (m) => (100 + (m % 2 ? 3 : -3)) * MB))
    expect(flat.memoryGrows).toBe(false)
    expect(Math.abs(flat.rss.slopeMBPerMinute)).toBeLessThan(0.5)
    const leak = steadyState(samples(10, (m) => (100 + 2 * m) * MB))
    expect(leak.rss.slopeMBPerMinute).toBeCloseTo(2, 5)
    expect(leak.memoryGrows).toBe(true)
    const heapLeak = steadyState(samples(10, () => 100 * MB, (m) => (30 + m) * MB))
    expect(heapLeak.heapUsed.lastOverFirstThird).toBeGreaterThan(0.05)
    expect(heapLeak.memoryGrows).toBe(true)
    expect(steadyState(samples(10, () => 100 * MB, () => 30 * MB, (m) => (50 + 3 * m) * MB)).memoryGrows).toBe(true)
  })

  it('does not call a rise that fell back a growth: the line climbs, the last third is where the first was', () => {
    const levels = [100, 100, 100, 100, 120, 120, 120, 104, 104, 104]
    const bump = steadyState(samples(10, (m) => levels[m] * MB))
    expect(bump.rss.fittedRiseShare).toBeGreaterThan(0.05)
    expect(bump.rss.lastOverFirstThird).toBeLessThan(0.05)
    expect(bump.memoryGrows).toBe(false)
  })

  it('refuses fewer than three samples', () => {
    expect(() => steadyState(samples(2, () => MB))).toThrow(/at least 3/)
  })
})
