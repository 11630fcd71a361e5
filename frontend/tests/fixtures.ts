// The protocol fixtures generated from the Rust types (townlet-protocol's
// `examples::frontend_fixtures`, kept current by its tests).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Episode, Hello, Recordings, Stats } from '../src/lib/protocol'

const path = fileURLToPath(new URL('../e2e/fixtures/protocol.json', import.meta.url))
export const fixtures = JSON.parse(readFileSync(path, 'utf8')) as {
  protocol_version: number
  server: Record<string, Record<string, unknown>>
  client: Record<string, Record<string, unknown>>
  stream: {
    hello_live: Hello
    hello_temporal: Hello
    stats_history: Stats
    episodes: Episode[]
    temporal_episodes: Episode[]
    replay_episode: Episode
    recordings: Recordings
  }
}

export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T
}

/** A copy of fixture episode `i` renumbered to `id`. */
export function episodeWithId(i: number, id: number): Episode {
  const ep = clone(fixtures.stream.episodes[i])
  ep.episode_id = id
  return ep
}
