// Small display helpers shared by the panels.

export function num(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(digits)
}

/** Money meters are normalised: 1.0 = $100. */
export function dollars(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : `$${(x * 100).toFixed(2)}`
}

export function isMoney(name: string): boolean {
  return name.toLowerCase() === 'money'
}

/** Okabe–Ito colours: distinguishable with the common colour-vision deficiencies. */
export const PALETTE = {
  blue: '#0072B2',
  sky: '#56B4E9',
  green: '#009E73',
  yellow: '#F0E442',
  orange: '#E69F00',
  vermillion: '#D55E00',
  purple: '#CC79A7',
}

export type Level = 'ok' | 'mid' | 'low'

export function level(x: number | null | undefined): Level {
  if (x === null || x === undefined) return 'low'
  return x >= 0.6 ? 'ok' : x >= 0.3 ? 'mid' : 'low'
}

export const LEVEL_COLOUR: Record<Level, string> = {
  ok: PALETTE.sky,
  mid: PALETTE.orange,
  low: PALETTE.vermillion,
}

/** Stage band colours for the charts (translucent). */
export const STAGE_COLOURS = ['#56B4E922', '#E69F0022', '#009E7322', '#CC79A722', '#F0E44222']

export function endReasonText(reason: string, cause: string[]): string {
  if (reason === 'died') return cause.length > 0 ? `died of ${cause.join(' and ')}` : 'died'
  if (reason === 'retired') return 'retired (reached its lifespan)'
  if (reason === 'truncated') return 'truncated (step limit)'
  if (reason === 'interrupted') return 'interrupted (training stopped)'
  return reason
}
