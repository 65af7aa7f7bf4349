import type {Probe} from '../core/probe.js'
import type {TargetKind} from '../core/types.js'

/** Each system's probes live in src/probes/<system>/index.ts; loaded on demand per target kind. */
const loaders: Partial<Record<TargetKind, () => Promise<Probe<any>[]>>> = {
  postgres: async () => (await import('./postgres/index.js')).postgresProbes,
  redis: async () => (await import('./redis/index.js')).redisProbes,
  pgbouncer: async () => (await import('./pgbouncer/index.js')).pgbouncerProbes,
  prometheus: async () => (await import('./prometheus/index.js')).prometheusProbes,
  rabbitmq: async () => (await import('./rabbitmq/index.js')).rabbitmqProbes,
  nats: async () => (await import('./nats/index.js')).natsProbes,
}

export async function probesFor(kind: TargetKind): Promise<Probe<any>[]> {
  return (await loaders[kind]?.()) ?? []
}
