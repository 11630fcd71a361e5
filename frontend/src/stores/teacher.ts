// The teacher's seat (docs/usage.md#teaching-with-townlet): the connection's role, the
// training events every viewer's charts mark, the training controls a teacher sends, and
// presenting / following. The page's viewer store does the showing; this store only
// decides what to ask it for.

import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type {
  ClientMessage,
  PresenterState,
  Role,
  ServerMessage,
  TrainingControl,
  TrainingEventInfo,
} from '../lib/protocol'

/** The teacher token of the page's URL (`?token=`), passed on to `/ws`. */
export function tokenFromSearch(search: string): string | null {
  const t = new URLSearchParams(search).get('token')
  return t !== null && t.length > 0 ? t : null
}

/** `/ws…` with the token added (the run parameter stays). */
export function withToken(url: string, token: string | null): string {
  if (token === null) return url
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`
}

/** What a marker's tooltip says. */
export function describeEvent(e: TrainingEventInfo): string {
  const name: Record<string, string> = {
    pause: 'training',
    epsilon: 'ε',
    learning_rate: 'learning rate',
    intrinsic_weight: 'intrinsic weight',
    stage: 'stage',
    depletion_multiplier: 'depletion multiplier',
  }
  return `episode ${e.episode}: ${name[e.control] ?? e.control} ${e.old} → ${e.new} (${e.who})`
}

export const useTeacher = defineStore('teacher', () => {
  let sendFn: (m: ClientMessage) => boolean = () => false
  const role = ref<Role>('viewer')
  /** Training events of the watched run, oldest first. */
  const events = shallowRef<TrainingEventInfo[]>([])
  const eventsVersion = ref(0)
  /** The teacher presents (as last told by the server). */
  const presenting = ref(false)
  /** Where the presenter is (followers move there). */
  const presenter = shallowRef<PresenterState | null>(null)
  /** This viewer follows the presenter (it can detach). */
  const following = ref(true)
  /** Bumped on every `presenting` a follower should apply. */
  const moveVersion = ref(0)

  function attach(fn: (m: ClientMessage) => boolean): void {
    sendFn = fn
  }

  function handle(m: ServerMessage): void {
    switch (m.type) {
      case 'hello':
        role.value = m.role ?? 'viewer'
        events.value = []
        eventsVersion.value++
        break
      case 'training_events':
        events.value = m.full ? [...m.events] : [...events.value, ...m.events]
        eventsVersion.value++
        break
      case 'presenting':
        if (m.active && !presenting.value) following.value = true
        presenting.value = m.active
        presenter.value = m.state ?? null
        if (m.active && following.value && role.value !== 'teacher') moveVersion.value++
        break
    }
  }

  function control(c: TrainingControl, runId: string | null = null): boolean {
    return sendFn({ type: 'training_control', run_id: runId, control: c })
  }
  function present(on: boolean): void {
    // The teacher's own connection gets no `presenting` back.
    presenting.value = on
    sendFn({ type: 'present', on })
  }
  function publish(state: PresenterState): void {
    if (role.value === 'teacher' && presenting.value) sendFn({ type: 'presenter_state', state })
  }
  function follow(on: boolean): void {
    following.value = on
    sendFn({ type: 'follow', on })
  }

  return { role, events, eventsVersion, presenting, presenter, following, moveVersion, attach, handle, control, present, publish, follow }
})
export type TeacherStore = ReturnType<typeof useTeacher>
