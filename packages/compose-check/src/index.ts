export { checkDockerfile, nodeBaseImage } from './dockerfile.ts'
export { checkoutEol, parseGitattributes } from './gitattributes.ts'
export { type ComposeFile, loadCompose, mergeService, parseComposeText } from './load-compose.ts'
export {
  environmentOf,
  expectedProxies,
  expectedPublishedPorts,
  expectedServiceEnv,
  internalPorts,
  kafkaNetworkProxy,
  parsePort,
  toolsProfile,
  toxiproxyService,
} from './model.ts'
export {
  composeFileName,
  defaultRepoRoot,
  loadProject,
  nativePinIn,
  nativePinSources,
  type Project,
  referencedDockerfiles,
  toxiproxyConfigPath,
} from './project.ts'
export { checkFaultlineRules } from './rules.ts'
export { composeSchemaFile, validateComposeSchema } from './schema.ts'

import { loadProject, type Project } from './project.ts'
import { checkFaultlineRules } from './rules.ts'
import { validateComposeSchema } from './schema.ts'

/** Schema errors of every compose file, each prefixed with its path; empty when all are valid. */
export function validateProjectSchema(project: Project): string[] {
  return project.files.flatMap((file) => validateComposeSchema(file.doc).map((e) => `${file.path}: ${e}`))
}

/** Schema errors then rule problems for the compose project under `root`; empty when all is well. */
export function checkCompose(root?: string): string[] {
  const project = loadProject(root)
  return [...validateProjectSchema(project), ...checkFaultlineRules(project)]
}
