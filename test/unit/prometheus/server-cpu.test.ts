import {describe, expect, it} from 'vitest'
import type {Reading} from '../../../src/core/types.js'
import {serverCpu} from '../../../src/readings/prometheus.js'

const cpuReading = (values: Record<string, number>, status: Reading['status'] = 'ok'): Reading => ({
  target: 'prom', probe: 'prometheus.cpu', takenAt: '2026-12-01T00:00:00Z', durationMs: 1, status,
  metrics: Object.entries(values).map(([subject, value]) => ({name: 'host.cpu.utilization', subject, value, unit: 'ratio'})) as Reading['metrics'],
})

describe('serverCpu: the CPU of the database server, never another host of the stack', () => {
  it('takes the one subject naming the server\'s host', () => {
    const readings = [cpuReading({'web-1:9100': 0.97, 'db-7.internal:9100': 0.31})]
    expect(serverCpu(readings, 'postgres://u@db-7.internal:5432/app')).toMatchObject({value: 0.31, subject: 'db-7.internal:9100', prometheus: 'prom'})
  })

  it('a busy application server does not make an unnamed database server saturated', () => {
    const readings = [cpuReading({'web-1:9100': 0.97})]
    expect(serverCpu(readings, 'postgres://u@db-7.internal:5432/app')).toBeUndefined()
    // A loopback address names no host: only the configured subject identifies the server.
    expect(serverCpu(readings, 'postgres://u@localhost:5432/app')).toBeUndefined()
    expect(serverCpu(readings, 'postgres://u@127.0.0.1:5432/app', 'web-1:9100')?.value).toBe(0.97)
  })

  it('several subjects naming the host, a failed reading or a non-finite value: not measured', () => {
    expect(serverCpu([cpuReading({'db-7:9100': 0.5, 'db-7:9200': 0.9})], 'postgres://db-7/app')).toBeUndefined()
    expect(serverCpu([cpuReading({'db-7:9100': 0.9}, 'error')], 'postgres://db-7/app')).toBeUndefined()
    expect(serverCpu([cpuReading({'db-7:9100': Number.NaN})], 'postgres://db-7/app')).toBeUndefined()
  })
})
