import type {Probe} from '../../core/probe.js'
import type {RedisSession} from '../../drivers/redis.js'
import {redisConfigProbe} from './config.js'
import {redisInfoProbe} from './info.js'
import {redisKeyspaceSampleProbe} from './keyspace-sample.js'
import {bullmqQueuesProbe} from '../queues/bullmq.js'
import {celeryQueuesProbe} from '../queues/celery.js'
import {sidekiqQueuesProbe} from '../queues/sidekiq.js'

// Order matters: redis.info must collect before redis.keys, because Redis counts the sampler's TYPE/PTTL/OBJECT
// lookups as keyspace hits and they would otherwise land inside the hit-rate window. Queue probes go after these.
export const redisProbes: Probe<RedisSession>[] = [
  redisInfoProbe,
  redisConfigProbe,
  redisKeyspaceSampleProbe,
  bullmqQueuesProbe,
  sidekiqQueuesProbe,
  celeryQueuesProbe,
]
