/**
 * Whether the OTEL_* environment asks for traces, read without loading any OpenTelemetry module: a run that does
 * not export pays nothing for tracing. On when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or OTEL_TRACES_EXPORTER names an exporter; off whenever OTEL_SDK_DISABLED is
 * true or OTEL_TRACES_EXPORTER is none (as the SDK itself reads them).
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return false
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((e) => e.trim().toLowerCase()).filter(Boolean)
  if (exporters.includes('none')) return false
  if (exporters.length > 0) return true
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim())
}
