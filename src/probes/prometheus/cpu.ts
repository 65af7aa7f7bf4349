import {definePromqlProbe} from './define.js'
import type {Candidate} from './queries.js'

/**
 * CPU busy share per instance. node_exporter and cAdvisor know the capacity (cores, CPU quota); a bare process
 * (prom-client's process_cpu_seconds_total) does not, so its rate is divided by options.cpuCores, default 1:
 * for a Node.js process one core is the real ceiling of its event loop.
 */
export function cpuCandidates(cores: number): Candidate[] {
  return [
    {name: 'node_exporter node_cpu_seconds_total (host busy share)', query: '1 - avg by ({{by}}) (rate(node_cpu_seconds_total{mode="idle"}[{{window}}]))'},
    {
      name: 'cAdvisor container_cpu_usage_seconds_total / CPU quota',
      query: 'max by ({{by}}) (sum by ({{by}}, pod, container) (rate(container_cpu_usage_seconds_total{container!=""}[{{window}}]))'
        + ' / sum by ({{by}}, pod, container) ((container_spec_cpu_quota{container!=""} > 0) / container_spec_cpu_period{container!=""}))',
    },
    {name: `process_cpu_seconds_total / ${cores} core${cores === 1 ? '' : 's'}`, query: `max by ({{by}}) (rate(process_cpu_seconds_total[{{window}}])) / ${cores}`},
  ]
}

export const cpuProbe = definePromqlProbe({
  id: 'prometheus.cpu',
  description: 'CPU utilisation per instance: node_exporter, cAdvisor against its quota, or process CPU against options.cpuCores',
  needs: 'host.cpu.utilization',
  per: 'instance',
  query(ctx) {
    const cores = typeof ctx.options.cpuCores === 'number' && ctx.options.cpuCores > 0 ? ctx.options.cpuCores : 1
    return {metric: 'host.cpu.utilization', key: 'cpu', candidates: cpuCandidates(cores)}
  },
})
