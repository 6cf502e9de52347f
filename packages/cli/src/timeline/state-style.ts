import type { KeyState } from '@webhook-jwt/producer'

/**
 * Each key state's colour and legend, as in the classic key rollover diagram. The SVG fills with these
 * colours; the terminal picks the nearest basic ANSI colour to each.
 *
 * @example
 * STATE_STYLE.active // { fill: '#238b45', label: 'signing' }
 */
export const STATE_STYLE: Readonly<Record<KeyState, { fill: string, label: string }>> = {
  next: { fill: '#6baed6', label: 'published, not signing yet' },
  active: { fill: '#238b45', label: 'signing' },
  retiring: { fill: '#fd8d3c', label: 'published, no longer signing' },
  retired: { fill: '#d9d9d9', label: 'unpublished, private key destroyed' }
}
