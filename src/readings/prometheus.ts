/** The Prometheus readings other parts consume; the app-pool reading's consumers read its metrics' evidence. */
import {readingKey} from '../core/readings.js'
import type {Reading} from '../core/types.js'

export const appPoolsReading = readingKey<Record<string, unknown>>('prometheus.app-pools')

const CPU_PROBE = 'prometheus.cpu'
const CPU_METRIC = 'host.cpu.utilization'
const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '[::1]'])

/** The host name of a target URL; undefined when it has none or does not parse. */
export function hostOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).hostname : undefined
  } catch {
    return undefined
  }
}

/**
 * The Prometheus CPU busy share (0..1) of one server: the reading whose subject is `subject` when given, else the
 * one subject naming the server's host. Undefined when none or several match: another host's CPU (an application
 * server's, the Prometheus server's own) says nothing of this server, and a loopback address names no host.
 */
export function serverCpu(readings: readonly Reading[], serverUrl: string | undefined, subject?: string): {value: number; subject: string; prometheus: string} | undefined {
  const host = hostOf(serverUrl)
  const found = readings.filter((r) => r.status === 'ok' && r.probe === CPU_PROBE)
    .flatMap((r) => r.metrics.filter((m) => m.name === CPU_METRIC && typeof m.value === 'number' && Number.isFinite(m.value)).map((m) => ({m, target: r.target})))
  const named = subject
    ? found.filter((x) => x.m.subject === subject)
    : host && !LOOPBACK.has(host) ? found.filter((x) => (x.m.subject ?? '').includes(host)) : []
  if (named.length !== 1) return undefined
  return {value: named[0].m.value as number, subject: named[0].m.subject ?? '', prometheus: named[0].target}
}
