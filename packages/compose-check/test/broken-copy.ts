/**
 * Broken copies of the real compose files: each test edits one file in memory (the root
 * docker-compose.yml, an included system file, the shared base) and loads the project with
 * that copy in place of the file on disk.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkFaultlineRules, defaultRepoRoot, loadProject, type Project } from '../src/index.ts'

/** Every compose file of the real project, by its path relative to the root. */
export const composeTexts: Record<string, string> = Object.fromEntries(
  loadProject().files.map((file) => [file.path, readFileSync(join(defaultRepoRoot, file.path), 'utf8')]),
)
export const rootFile = 'docker-compose.yml'
export const shortenerFile = 'services/shortener/compose.yaml'
export const baseFile = 'infra/compose/system-service.yaml'

/** Replaces exactly one occurrence, so a test whose needle went stale fails instead of passing vacuously. */
export function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from)
  assert.notEqual(at, -1, `test fixture: ${JSON.stringify(from)} not found`)
  assert.equal(text.indexOf(from, at + 1), -1, `test fixture: ${JSON.stringify(from)} found more than once`)
  return text.slice(0, at) + to + text.slice(at + from.length)
}

/** One compose file with `from` replaced once: `{ [path]: edited text }`, for loadProject. */
export function editFile(path: string, from: string, to: string): Record<string, string> {
  const text = composeTexts[path]
  assert.ok(text !== undefined, `test fixture: ${path} is not a compose file of the project`)
  return { [path]: replaceOnce(text, from, to) }
}

/**
 * Replaces `from` with `to` exactly once inside one service's block (from its key under
 * `services:` to the next service key), in whichever file defines it, so an edit cannot land in
 * an anchor or another service.
 */
export function editService(name: string, from: string | RegExp, to: string): Record<string, string> {
  const path = Object.keys(composeTexts).find((p) => {
    const text = composeTexts[p] ?? ''
    const servicesAt = text.indexOf('\nservices:\n')
    return servicesAt !== -1 && text.indexOf(`\n  ${name}:\n`, servicesAt) !== -1
  })
  assert.ok(path, `test fixture: service ${name} not found`)
  const text = composeTexts[path] as string
  const start = text.indexOf(`\n  ${name}:\n`, text.indexOf('\nservices:\n'))
  const next = text.slice(start + 1).search(/\n {2}[a-z0-9-]+:\n|\n\S/)
  const end = next === -1 ? text.length : start + 1 + next
  const block = text.slice(start, end)
  const edited = typeof from === 'string' ? replaceOnce(block, from, to) : block.replace(from, to)
  assert.notEqual(edited, block, `test fixture: ${String(from)} not found in service ${name}`)
  return { [path]: text.slice(0, start) + edited + text.slice(end) }
}

export function problemsFor(texts: Record<string, string>, patch?: (project: Project) => void): string[] {
  const project = loadProject(defaultRepoRoot, texts)
  patch?.(project)
  return checkFaultlineRules(project)
}

export function assertProblem(problems: string[], pattern: RegExp): void {
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `expected a problem matching ${pattern}, got:\n${problems.join('\n') || '(none)'}`,
  )
}
