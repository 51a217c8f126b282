export { containerRuntimeAvailable, images as containerImages } from './containers.ts'
export { TestkitError, type TestkitErrorCode } from './errors.ts'
export {
  defaultNeed,
  envVarOf,
  type InfraComponent,
  type InfraMode,
  type InfraSource,
  type InfraUrls,
  type ResolvedInfra,
  type ResolveOptions,
  resolveInfra,
  splitBrokers,
} from './infra.ts'
export {
  createTopic,
  deleteKeysWithPrefix,
  deleteTopics,
  type IsolatedSchema,
  isolatedSchema,
  keyPrefix,
  randomId,
  uniqueTopic,
  withSearchPath,
} from './isolation.ts'
export { type AfterHost, type SchemaHandle, type TestInfra, testInfra } from './test-infra.ts'
