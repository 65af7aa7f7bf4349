/**
 * Sizes consumers for each queue from its readings: the arrival rate, the service rate the current consumers
 * achieved while there was work waiting (so they were busy and the per-consumer rate is their capacity), and the
 * backlog. Works from a snapshot alone: everything it needs is in the queue readings' data.
 *
 *   perWorkerRate        = serviceRate / currentConsumers
 *   recommendedConsumers = max(ceil(arrivalRate / (perWorkerRate x utilisation)),
 *                              ceil((arrivalRate + depth / drainTargetSeconds) / perWorkerRate))
 *   drainEtaSeconds      = depth / (serviceRate - arrivalRate) when positive, else not draining
 */
import type {Advisor, AdvisorFinding} from '../core/advisor.js'
import {round} from '../core/numbers.js'
import {readingsWhere} from '../core/readings.js'
import {isQueueData, type QueueSummary} from '../readings/queues.js'

export const RULE_ID = 'queue/workers'

export interface WorkersEstimate {
  arrivalRate: number
  serviceRate: number
  perWorkerRate: number
  currentConsumers: number
  recommendedConsumers: number
  utilisationTarget: number
  drainTargetSeconds: number
  drainEtaSeconds: number | null
  drainEtaAfterSeconds: number | null
}

/** The estimate for one queue, or why none can be made. */
export function estimateWorkers(q: QueueSummary, utilisation = 0.7, drainTargetSeconds = 600): WorkersEstimate | {unsized: string} {
  if (q.arrivalRate === null || q.serviceRate === null) return {unsized: 'no arrival or service rate (run with --window, or the system keeps no counters)'}
  if (q.consumers === null) return {unsized: 'consumers are not visible for this system'}
  if (q.consumers === 0) return {unsized: 'no consumers attached (see queue/no-consumers)'}
  if (q.depth === 0) return {unsized: 'nothing waiting: the consumers were not saturated, so their capacity is unknown'}
  if (q.serviceRate <= 0) return {unsized: 'consumers attached but nothing completed during the window'}
  const perWorkerRate = q.serviceRate / q.consumers
  const forArrivals = Math.ceil(q.arrivalRate / (perWorkerRate * utilisation))
  const forBacklog = Math.ceil((q.arrivalRate + q.depth / drainTargetSeconds) / perWorkerRate)
  const recommendedConsumers = Math.max(1, forArrivals, forBacklog)
  const after = recommendedConsumers * perWorkerRate - q.arrivalRate
  return {
    arrivalRate: q.arrivalRate,
    serviceRate: q.serviceRate,
    perWorkerRate: round(perWorkerRate),
    currentConsumers: q.consumers,
    recommendedConsumers,
    utilisationTarget: utilisation,
    drainTargetSeconds,
    drainEtaSeconds: q.drainEtaSeconds,
    drainEtaAfterSeconds: after > 0 ? round(q.depth / after, 1) : null,
  }
}

export const workersAdvisor: Advisor = {
  id: 'workers',
  scope: 'stack',
  description: 'How many consumers each queue needs, from arrival and per-consumer service rates at ~70 % utilisation',
  async advise(ctx) {
    const utilisation = Number(ctx.options.workersUtilisation ?? 0.7) || 0.7
    const drainTarget = Number(ctx.options.drainTargetSeconds ?? 600) || 600
    const findings: AdvisorFinding[] = []
    for (const {reading, data} of readingsWhere(ctx.readings, isQueueData)) {
      for (const q of data.queues) {
        const estimate = estimateWorkers(q, utilisation, drainTarget)
        if ('unsized' in estimate || estimate.recommendedConsumers <= estimate.currentConsumers) continue
        const draining = estimate.serviceRate > estimate.arrivalRate
        const add = estimate.recommendedConsumers - estimate.currentConsumers
        findings.push({
          rule: RULE_ID,
          severity: draining ? 'info' : 'warning',
          target: reading.target,
          subject: q.subject,
          metric: 'queue.consumers',
          value: estimate.recommendedConsumers,
          message: `${q.subject}: ${estimate.currentConsumers} consumers serve ${estimate.serviceRate}/s against ${estimate.arrivalRate}/s arriving `
            + `(${estimate.perWorkerRate}/s each) with ${q.depth} waiting; ${estimate.recommendedConsumers} would keep up at ${Math.round(utilisation * 100)} % `
            + `and drain the backlog in ${estimate.drainEtaAfterSeconds ?? '?'} s (now: ${draining ? `${estimate.drainEtaSeconds} s` : 'not draining'})`,
          evidence: {system: q.system, queue: q.name, depth: q.depth, windowSeconds: q.windowSeconds, rateSource: q.rateSource, ...estimate},
          remedies: [{
            kind: 'workers',
            summary: `Run ${estimate.recommendedConsumers} consumers for ${q.subject} (${add} more), or make each job faster`,
            ...estimate,
          }],
        })
      }
    }
    return findings
  },
}
