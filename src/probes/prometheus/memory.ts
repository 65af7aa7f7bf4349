import {ProbeSkip} from '../../core/errors.js'
import {definePromqlProbe} from './define.js'
import {render, type Candidate} from './queries.js'

/**
 * Memory in use over memory available, per instance. A utilisation needs a denominator, and a process alone
 * has none: prom-client's process_resident_memory_bytes says how much is used, not how much may be. So:
 * node_exporter's MemAvailable/MemTotal (host), cAdvisor's working set over the container limit (a limit of 0
 * means unlimited and is dropped), or the resident set over options.memoryLimitBytes when the user knows the
 * limit. With only process memory and no limit the probe is skipped and says which of these to add.
 */
export function memoryCandidates(limitBytes?: number): Candidate[] {
  const list: Candidate[] = [
    {name: 'node_exporter 1 - MemAvailable/MemTotal', query: 'max by ({{by}}) (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)'},
    {
      name: 'cAdvisor container_memory_working_set_bytes / container_spec_memory_limit_bytes',
      query: 'max by ({{by}}) (container_memory_working_set_bytes{container!=""} / (container_spec_memory_limit_bytes{container!=""} > 0))',
    },
  ]
  if (limitBytes) list.push({name: `process_resident_memory_bytes / options.memoryLimitBytes (${limitBytes})`, query: `max by ({{by}}) (process_resident_memory_bytes) / ${limitBytes}`})
  return list
}

export const memoryProbe = definePromqlProbe({
  id: 'prometheus.memory',
  description: 'Memory utilisation per instance: node_exporter, cAdvisor against the container limit, or process RSS against options.memoryLimitBytes',
  needs: 'host.memory.utilization',
  per: 'instance',
  // Gauges: no rate, so no window in data or evidence.
  windowed: false,
  query(ctx) {
    const limit = typeof ctx.options.memoryLimitBytes === 'number' && ctx.options.memoryLimitBytes > 0 ? ctx.options.memoryLimitBytes : undefined
    return {metric: 'host.memory.utilization', key: 'memory', candidates: memoryCandidates(limit)}
  },
  async beforeNoSeries(session, s, by) {
    const rss = await session.query(render('max by ({{by}}) (process_resident_memory_bytes)', s, by))
    if (rss.length > 0) {
      throw new ProbeSkip('host.memory.utilization has no denominator: only process_resident_memory_bytes is scraped; scrape node_exporter or cAdvisor, or set options.prometheus.memoryLimitBytes')
    }
  },
})
