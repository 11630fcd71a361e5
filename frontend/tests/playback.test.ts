import { describe, expect, it } from 'vitest'
import { Playback } from '../src/lib/playback'
import type { Order } from '../src/lib/protocol'
import { clone, episodeWithId, fixtures } from './fixtures'

function player() {
  const requests: [number, Order][] = []
  const finished: number[] = []
  const p = new Playback({ requestNext: (a, o) => requests.push([a, o]), finished: (ep) => finished.push(ep.episode_id) })
  return { p, requests, finished }
}

describe('Playback', () => {
  it('plays 5 steps per second at 1x and asks for the next episode once at the end', () => {
    const { p, requests, finished } = player()
    const ep = episodeWithId(0, 10)
    const n = ep.steps.step.length
    p.load(ep)
    expect(p.cursor).toBe(0)
    p.tick(1000)
    expect(p.cursor).toBe(5)
    p.tick(100)
    p.tick(100)
    expect(p.cursor).toBe(6)
    for (let i = 0; i < 200; i++) p.tick(250)
    expect(p.cursor).toBe(n)
    expect(requests).toEqual([[10, 'latest']])
    expect(finished).toEqual([10])
  })

  it('scales with speed and caps a long pause in ticking', () => {
    const { p } = player()
    p.load(episodeWithId(1, 11))
    p.setSpeed(2)
    p.tick(500)
    expect(p.cursor).toBe(5)
    p.setSpeed(0.25)
    p.tick(800)
    expect(p.cursor).toBe(6)
    p.setSpeed(10)
    p.tick(60_000) // a throttled tab: counted as 1 s at most
    expect(p.cursor).toBe(56)
  })

  it('does not move while paused; stepping moves one step', () => {
    const { p } = player()
    p.load(episodeWithId(0, 1))
    p.playing = false
    p.tick(5000)
    expect(p.cursor).toBe(0)
    p.stepOnce()
    p.stepOnce()
    expect(p.cursor).toBe(2)
  })

  it('queues the next episode and switches after the end hold', () => {
    const { p, requests } = player()
    p.load(episodeWithId(2, 20))
    const n = p.length
    p.offer(episodeWithId(3, 25)) // arrived early (e.g. a reply to an earlier next)
    expect(p.episode?.episode_id).toBe(20)
    p.seek(n)
    expect(p.episode?.episode_id).toBe(20) // the last frame is held first
    p.tick(200)
    p.tick(200)
    p.tick(200)
    expect(p.episode?.episode_id).toBe(25)
    expect(p.cursor).toBe(0)
    expect(requests).toEqual([]) // nothing requested while one was waiting
  })

  it('requests once even if ticked many times at the end, then takes the reply', () => {
    const { p, requests } = player()
    p.load(episodeWithId(2, 30))
    p.seek(p.length)
    for (let i = 0; i < 10; i++) p.tick(100)
    expect(requests).toEqual([[30, 'latest']])
    expect(p.awaitingNext).toBe(true)
    p.offer(episodeWithId(0, 31))
    p.tick(1000)
    expect(p.episode?.episode_id).toBe(31)
    expect(p.awaitingNext).toBe(false)
  })

  it('uses the chosen order', () => {
    const { p, requests } = player()
    p.order = 'sequential'
    p.load(episodeWithId(2, 40))
    p.seek(p.length)
    expect(requests).toEqual([[40, 'sequential']])
  })

  it('instant shows each episode complete and asks again at once', () => {
    const { p, requests } = player()
    p.setSpeed('instant')
    p.load(episodeWithId(0, 50))
    p.tick(16)
    expect(p.cursor).toBe(p.length)
    expect(requests).toEqual([[50, 'latest']])
    p.offer(episodeWithId(1, 51))
    p.tick(16)
    p.tick(16)
    expect(p.episode?.episode_id).toBe(51)
    expect(requests).toEqual([
      [50, 'latest'],
      [51, 'latest'],
    ])
  })

  it('a replay plays to its end and stays there', () => {
    const { p, requests, finished } = player()
    const replay = clone(fixtures.stream.replay_episode)
    p.load(replay)
    for (let i = 0; i < 100; i++) p.tick(1000)
    expect(p.cursor).toBe(p.length)
    expect(requests).toEqual([])
    expect(finished).toEqual([replay.episode_id])
  })

  it('seek clamps to the episode', () => {
    const { p } = player()
    p.load(episodeWithId(0, 1))
    p.playing = false
    p.seek(-5)
    expect(p.cursor).toBe(0)
    p.seek(3.6)
    expect(p.cursor).toBe(4)
    p.seek(10_000)
    expect(p.cursor).toBe(p.length)
  })
})
