/**
 * The S3 side of the photos system: one gate (breaker + error mapping) shared by the server-side
 * object operations and the presigned-upload lifecycle. `createStorage` is what `components.ts`
 * calls; tests build the same thing against a random bucket.
 */
import type { S3Client } from '@aws-sdk/client-s3'
import { ObjectStore } from './object-store.ts'
import { PresignedUploads } from './presigned-uploads.ts'
import { S3Gate, type S3GateOptions } from './s3-gate.ts'

export type { DeclaredPutOptions, DeclaredPutResult } from './declared-put.ts'
export * from './errors.ts'
export * from './object-store.ts'
export * from './presigned-uploads.ts'
export * from './s3-client.ts'
export * from './s3-gate.ts'
export { minPartSizeBytes, type PutStreamOptions, type PutStreamResult } from './streaming-put.ts'

export interface StorageOptions extends S3GateOptions {
  /** Signs the URLs clients use, when they reach S3 at another address than the service. */
  signer?: S3Client
}

export interface Storage {
  gate: S3Gate
  objects: ObjectStore
  uploads: PresignedUploads
}

export function createStorage(options: StorageOptions): Storage {
  const gate = new S3Gate(options)
  return { gate, objects: new ObjectStore(gate), uploads: new PresignedUploads(gate, options.signer) }
}
