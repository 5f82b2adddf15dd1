/**
 * Text for people: HTML escaping (every string that comes from a results
 * file is escaped, since names come from scenario files) and number formats
 * shared by the HTML report and the comparison table.
 */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' }

/** Escapes text for HTML and SVG content and for quoted attribute values. */
export function escapeHtml (text: string): string {
  return text.replace(/[&<>"']/g, c => HTML_ESCAPES[c] ?? c)
}

/** `850 ms`, `12.5 s`, `3.2 min`, `1.5 h`; `–` for null (never). */
export function formatDuration (ms: number | null): string {
  if (ms === null) return '–'
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 120_000) return `${trim(ms / 1000)} s`
  if (ms < 7_200_000) return `${trim(ms / 60_000)} min`
  return `${trim(ms / 3_600_000)} h`
}

/** `512 B`, `1.5 KiB`, `64 MiB`, `2.1 GiB`. */
export function formatBytes (bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${trim(value)} ${units[unit] ?? 'TiB'}`
}

/** Up to three significant digits, no trailing zeros: 12.5, 3, 0.25, 1234. */
export function trim (value: number): string {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2
  return String(Number(value.toFixed(digits)))
}

/** 1234567 → `1,234,567` (fixed locale, so output does not depend on the machine). */
export function formatCount (value: number): string {
  return Math.round(value).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}
