/** The Prometheus readings other parts consume; the app-pool reading's consumers read its metrics' evidence. */
import {readingKey} from '../core/readings.js'

export const appPoolsReading = readingKey<Record<string, unknown>>('prometheus.app-pools')
