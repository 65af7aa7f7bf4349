import type {Driver} from '../core/probe.js'
import type {TargetKind} from '../core/types.js'

/** Drivers are imported on demand so that a run pays only for the client libraries of the kinds it probes. */
const loaders: Partial<Record<TargetKind, () => Promise<Driver<any>>>> = {
  postgres: async () => (await import('./postgres.js')).postgresDriver,
  redis: async () => (await import('./redis.js')).redisDriver,
  pgbouncer: async () => (await import('./pgbouncer.js')).pgbouncerDriver,
  prometheus: async () => (await import('./prometheus.js')).prometheusDriver,
  rabbitmq: async () => (await import('./rabbitmq.js')).rabbitmqDriver,
  nats: async () => (await import('./nats.js')).natsDriver,
}

export async function driverFor(kind: TargetKind): Promise<Driver<any> | undefined> {
  return loaders[kind]?.()
}
