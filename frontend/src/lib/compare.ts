// Two runs "in step": both show the same episode number. When both have played it to its
// end, both ask for the newest episode that both runs have (`get_episode`).

export interface PaneState {
  /** Episode shown (null: none yet). */
  shown: number | null
  atEnd: boolean
  /** Newest finished episode of the run. */
  latest: number | null
  /** An episode was asked for and has not come yet. */
  waiting: boolean
}

/** The episode number both panes should ask for now, or null to keep what is shown. */
export function nextInStep(a: PaneState, b: PaneState): number | null {
  if (a.latest === null || b.latest === null || a.waiting || b.waiting) return null
  const common = Math.min(a.latest, b.latest)
  if (a.shown === null || b.shown === null || a.shown !== b.shown) return common
  if (a.atEnd && b.atEnd && common > a.shown) return common
  return null
}
