import { beforeEach, describe, expect, it } from 'vitest'
import { createPinia, setActivePinia } from 'pinia'
import { describeEvent, tokenFromSearch, useTeacher, withToken } from '../src/stores/teacher'
import type { ClientMessage, ServerMessage } from '../src/lib/protocol'
import { clone, fixtures } from './fixtures'

function setup() {
  const teacher = useTeacher()
  const sent: ClientMessage[] = []
  teacher.attach((m) => {
    sent.push(m)
    return true
  })
  return { teacher, sent }
}

const server = (name: string) => clone(fixtures.server[name]) as unknown as ServerMessage

describe('teacher store', () => {
  beforeEach(() => setActivePinia(createPinia()))

  it('takes the token from the page URL and passes it to /ws', () => {
    expect(tokenFromSearch('?run=a&token=abc123xyz')).toBe('abc123xyz')
    expect(tokenFromSearch('?run=a')).toBeNull()
    expect(withToken('ws://h/ws', 'abc')).toBe('ws://h/ws?token=abc')
    expect(withToken('ws://h/ws?run=a', 'a b')).toBe('ws://h/ws?run=a&token=a%20b')
    expect(withToken('ws://h/ws', null)).toBe('ws://h/ws')
  })

  it('keeps the role of hello and the training events as markers', () => {
    const { teacher } = setup()
    const hello = server('hello') as Extract<ServerMessage, { type: 'hello' }>
    hello.role = 'teacher'
    teacher.handle(hello)
    expect(teacher.role).toBe('teacher')
    const ev = server('training_events') as Extract<ServerMessage, { type: 'training_events' }>
    teacher.handle(ev)
    teacher.handle(ev)
    expect(teacher.events).toHaveLength(2)
    teacher.handle({ ...ev, full: true })
    expect(teacher.events).toHaveLength(1)
    expect(describeEvent(teacher.events[0])).toBe('episode 1235: ε schedule (0.4121) → 0.05 (teacher)')
    // A new hello (another run) starts over.
    teacher.handle(hello)
    expect(teacher.events).toHaveLength(0)
  })

  it('follows the presenter until detached, and follows again when presenting restarts', () => {
    const { teacher, sent } = setup()
    teacher.handle(server('hello'))
    const p = server('presenting') as Extract<ServerMessage, { type: 'presenting' }>
    teacher.handle(p)
    expect([teacher.presenting, teacher.following, teacher.moveVersion]).toEqual([true, true, 1])
    teacher.follow(false)
    expect(sent.at(-1)).toEqual({ type: 'follow', on: false })
    teacher.handle(p)
    expect(teacher.moveVersion).toBe(1)
    teacher.handle({ ...p, active: false, state: null })
    expect(teacher.presenting).toBe(false)
    teacher.handle(p)
    expect([teacher.following, teacher.moveVersion]).toEqual([true, 2])
  })

  it('sends controls naming the run, and presenter state only while presenting as teacher', () => {
    const { teacher, sent } = setup()
    teacher.control({ kind: 'set_epsilon', value: 0.05 }, 'with-curiosity')
    expect(sent.at(-1)).toEqual({ type: 'training_control', run_id: 'with-curiosity', control: { kind: 'set_epsilon', value: 0.05 } })
    const state = { run_id: 'main', episode_id: 3, step: 4, playing: true, speed: 2, overlays: [] }
    teacher.publish(state)
    expect(sent).toHaveLength(1)
    const hello = server('hello') as Extract<ServerMessage, { type: 'hello' }>
    hello.role = 'teacher'
    teacher.handle(hello)
    teacher.present(true)
    teacher.publish(state)
    expect(sent.slice(1)).toEqual([{ type: 'present', on: true }, { type: 'presenter_state', state }])
  })
})
