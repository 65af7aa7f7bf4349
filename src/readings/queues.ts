/** Every queue system's reading shares one data shape; consumers read them as one family. */
import {isQueueReadingData, type QueueReadingData} from '../probes/queues/normalise.js'

export type {QueueReadingData, QueueSummary} from '../probes/queues/normalise.js'

/** Every queue probe's data carries kind: 'queues': consumers find them with readingsWhere(readings, isQueueData). */
export const isQueueData: (data: unknown) => data is QueueReadingData = isQueueReadingData
