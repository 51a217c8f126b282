/** The hooks every photo experiment shares: its world emptied before a mode, and "settled". */
import type { HookContext } from '@faultline/lab'
import type { PhotosFixture } from '@faultline/photos/fixture'

/** Empties the experiment's world (schema, prefixes, bucket) and says what went in the run's log. */
export async function resetWorld(fixture: PhotosFixture, ctx: HookContext): Promise<void> {
  const removed = await fixture.reset(ctx)
  ctx.log(`reset: ${removed.photos} photos, ${removed.keys} Redis keys, ${removed.objects} objects removed`)
}

/** Whether every photo of owners starting with `ownerPrefix` is terminal (ready or failed). */
export async function noneProcessing(
  fixture: PhotosFixture,
  ctx: HookContext,
  ownerPrefix = '',
): Promise<boolean> {
  return (await fixture.statusCounts(ctx.pg, ownerPrefix)).processing === 0
}
