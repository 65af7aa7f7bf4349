/**
 * OpenTelemetry's Node SDK, set up from the standard OTEL_* variables (exporter, protocol, endpoint, headers,
 * sampler, resource attributes, batch settings): imported only when src/telemetry/requested.ts says traces are
 * wanted. It exports traces only: no metrics or logs (watch serves its metrics to Prometheus) and no
 * auto-instrumentation (chokepoint's own events make every span, see otel-instrumentation.ts).
 */
// First: libpg-query starts compiling its WASM module when evaluated, and compiles it while the SDK's modules load.
import {loadSqlNormaliser, normaliseSql} from './sql.js'
import {trace} from '@opentelemetry/api'
import {NodeSDK, resources} from '@opentelemetry/sdk-node'
import type {Instrumentation} from '../core/instrumentation.js'
import type {Secrets} from '../core/secrets.js'
import {toolVersion} from '../core/version.js'
import {OtelInstrumentation} from './otel-instrumentation.js'

export interface Tracing {
  instrumentation: Instrumentation
  /** Exports every span still buffered and stops the SDK (bounded by the exporter's OTEL_EXPORTER_OTLP_TIMEOUT). */
  shutdown(): Promise<void>
}

/**
 * The SDK's process detector records process.command_args, the whole command line: `--pg postgres://u:PASSWORD@...`
 * would go into every export. This one records what identifies the process and nothing it was given.
 */
const processWithoutArguments = {
  detect: () => ({attributes: {'process.pid': process.pid, 'process.runtime.name': 'nodejs', 'process.runtime.version': process.versions.node,
    'process.executable.name': 'chokepoint'}}),
}

export async function startTracing(options: {command: string; secrets: Secrets}): Promise<Tracing> {
  await loadSqlNormaliser()
  const version = toolVersion()
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) wins over this, through the env detector.
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({'service.name': 'chokepoint', 'service.version': version})),
    resourceDetectors: [resources.envDetector, resources.hostDetector, resources.osDetector, processWithoutArguments],
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  })
  sdk.start()
  const tracer = trace.getTracer('chokepoint', version)
  return {
    instrumentation: new OtelInstrumentation(tracer, {command: options.command, secrets: options.secrets, normalise: normaliseSql}),
    shutdown: () => sdk.shutdown(),
  }
}
