export { checkDockerfile, nodeBaseImage } from './dockerfile.ts'
export {
  composeFileName,
  defaultRepoRoot,
  loadProject,
  type Project,
  parseComposeText,
  referencedDockerfiles,
  toxiproxyConfigPath,
} from './project.ts'
export {
  checkFaultlineRules,
  environmentOf,
  expectedPublishedPorts,
  expectedServiceEnv,
  internalPorts,
  parsePort,
  toolsProfile,
  toxiproxyService,
} from './rules.ts'
export { composeSchemaFile, validateComposeSchema } from './schema.ts'

import { loadProject } from './project.ts'
import { checkFaultlineRules } from './rules.ts'
import { validateComposeSchema } from './schema.ts'

/** Schema errors then rule problems for the compose file under `root`; empty when all is well. */
export function checkCompose(root?: string): string[] {
  const project = loadProject(root)
  return [...validateComposeSchema(project.compose), ...checkFaultlineRules(project)]
}
