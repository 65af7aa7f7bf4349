import type {Advisor} from '../core/advisor.js'

/** Every advisor, loaded on demand; an advisor whose readings are absent returns no findings. */
export async function loadAdvisors(): Promise<Advisor[]> {
  const advisors: Advisor[] = []
  advisors.push((await import('./ttl.js')).ttlAdvisor)
  advisors.push((await import('./index-advisor/advisor.js')).indexAdvisor)
  advisors.push((await import('./workers.js')).workersAdvisor)
  advisors.push((await import('./pool-chain.js')).poolChainAdvisor)
  return advisors
}
