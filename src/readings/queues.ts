/** Every queue system's reading shares one data shape; consumers read them as one family. */
import {readingKey} from '../core/readings.js'
import {isQueueReadingData, type QueueReadingData} from '../probes/queues/normalise.js'

export type {QueueReadingData, QueueSummary} from '../probes/queues/normalise.js'

export const QUEUE_PROBE_IDS = ['queues.bullmq', 'queues.sidekiq', 'queues.celery', 'rabbitmq.queues', 'nats.jetstream'] as const

export const queueReadings = QUEUE_PROBE_IDS.map((id) => readingKey<QueueReadingData>(id, isQueueReadingData))
