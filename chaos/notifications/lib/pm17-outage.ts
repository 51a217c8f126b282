/**
 * pm17's fault: the outbox relay is killed (kill -9) and, while it is down, a few notifications
 * are accepted whose template is then changed so that it no longer renders with their data (a
 * variable they do not carry): they were valid when accepted and can never be sent — poison, as
 * a channel worker finds out only when it renders them. At `until` the relay is started again and
 * publishes the backlog of the outage at once: the poison, and the short-TTL notifications that
 * expired while they waited.
 */
import { type Action, action, kill, service } from '@faultline/lab'
import { accept, putTemplate, type World } from './world.ts'

export const poisonTemplate = 'pm17-offer'
export const poisonChannels = { webhook: { text: 'offer for {{ name }}' } }
/** The same template after the change: `coupon` is a variable the accepted notifications lack. */
const brokenChannels = { webhook: { text: 'offer {{ coupon }} for {{ name }}' } }

export function relayOutageWithPoison(world: World, poisonCount: number): Action {
  const killRelay = kill(service('relay', 0))
  return action(
    `kill -9 relay-0; accept ${poisonCount} notifications, then change their template so they cannot render; restart relay-0 at until`,
    async (ctx) => {
      const killed = await killRelay.run(ctx)
      for (let i = 0; i < poisonCount; i++) {
        await accept(ctx, {
          recipientId: `${world.recipientPrefix}${i}`,
          template: poisonTemplate,
          data: { name: `poison-${i}` },
          channels: ['webhook'],
          category: 'lab',
          priority: 'normal',
          ttlS: 3600,
        })
      }
      await putTemplate(ctx, poisonTemplate, brokenChannels)
      return {
        note: `${killed?.note ?? 'relay killed'}; ${poisonCount} poison notifications accepted, template changed`,
        ...(killed?.heal ? { heal: killed.heal } : {}),
      }
    },
  )
}
