/** Escaping for the HTML report: every text that came from a target, a config or a report file goes through here. */

const ENTITIES: Record<string, string> = {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}

/**
 * Text for element content and (double- or single-quoted) attribute values. U+2028 and U+2029 become character
 * references too, so the file holds no raw line separator anywhere (some editors and tools break lines on them).
 */
export function esc(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]).replace(/\u2028/g, '&#x2028;').replace(/\u2029/g, '&#x2029;')
}

/**
 * JSON for a `<script type="application/json">` element: `<` (so no `</script>` or `<!--` can end or bend it), `>`
 * and `&` as \u escapes, and U+2028/U+2029 (line terminators to JavaScript before ES2019) escaped too. JSON.parse
 * of the element's text gives back the object exactly.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
}
