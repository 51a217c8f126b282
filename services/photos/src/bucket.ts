import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3'

/**
 * Creates the bucket when it does not exist yet (first start on a fresh S3), idempotently: two
 * processes starting at once both succeed. Retries while S3 is still coming up, up to `waitMs`.
 */
export async function ensureBucket(s3: S3Client, bucket: string, waitMs = 30_000): Promise<void> {
  const giveUpAt = Date.now() + waitMs
  for (;;) {
    try {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }))
      return
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
      if (status === 404) {
        try {
          await s3.send(new CreateBucketCommand({ Bucket: bucket }))
          return
        } catch (createErr) {
          const name = (createErr as Error).name
          if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return
          if (Date.now() >= giveUpAt) throw createErr
        }
      } else if (Date.now() >= giveUpAt) {
        throw err
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}
