import type {Probe} from '../../core/probe.js'
import type {PrometheusSession} from '../../drivers/prometheus.js'
import {appPoolsProbe} from './app-pools.js'
import {cpuProbe} from './cpu.js'
import {errorRateProbe} from './errors.js'
import {latencyProbe} from './latency.js'
import {memoryProbe} from './memory.js'

/** Service metrics over PromQL (latency, errors, CPU, memory) and application pool gauges (also from a bare /metrics). */
export const prometheusProbes: Probe<PrometheusSession>[] = [latencyProbe, errorRateProbe, cpuProbe, memoryProbe, appPoolsProbe]
