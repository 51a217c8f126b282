/**
 * Line endings of the files a container executes. A Windows checkout with
 * `core.autocrlf=true` writes CRLF, and bash inside a Linux container then reads
 * `set -euo pipefail\r` — the Postgres init script fails on the first line. `.gitattributes`
 * pins LF whatever the user's git settings; this rule checks it covers every shell script and
 * Dockerfile the compose project mounts or builds from, and any `*.sh` added later.
 */
import { basename, extname } from 'node:path'
import { mountsOf, type Services } from './model.ts'
import { gitattributesPath, type Project } from './project.ts'

interface AttributeLine {
  matches: (path: string) => boolean
  attributes: string[]
}

/** gitattributes patterns: gitignore globs, a pattern without `/` matches the name at any depth. */
function globToRegExp(glob: string): RegExp {
  let out = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string
    if (glob.startsWith('**/', i)) {
      out += '(?:.*/)?'
      i += 2
    } else if (glob.startsWith('/**', i) && i + 3 === glob.length) {
      out += '/.*'
      i += 2
    } else if (c === '*') out += '[^/]*'
    else if (c === '?') out += '[^/]'
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1)
      out += close === -1 ? '\\[' : glob.slice(i, close + 1).replace(/^\[!/, '[^')
      if (close !== -1) i = close
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return new RegExp(`^${out}$`)
}

export function parseGitattributes(text: string): AttributeLine[] {
  const lines: AttributeLine[] = []
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const [pattern = '', ...attributes] = line.split(/\s+/)
    const anchored = pattern.includes('/')
    const regexp = globToRegExp(pattern.replace(/^\//, ''))
    lines.push({ matches: (path) => regexp.test(anchored ? path : basename(path)), attributes })
  }
  return lines
}

/**
 * The `eol` git applies to `path` on checkout: the last matching line that sets it wins, and it
 * applies only while `text` is not unset (`-text`, `binary`).
 */
export function checkoutEol(lines: AttributeLine[], path: string): string | undefined {
  let eol: string | undefined
  let textUnset = false
  for (const line of lines) {
    if (!line.matches(path)) continue
    for (const attribute of line.attributes) {
      if (attribute.startsWith('eol=')) eol = attribute.slice(4)
      else if (attribute === '-text' || attribute === 'binary') textUnset = true
      else if (attribute === 'text' || attribute.startsWith('text=')) textUnset = false
    }
  }
  return textUnset ? undefined : eol
}

/** Shell scripts a container runs from a bind mount: mounted files, or files in mounted folders. */
function mountedScripts(services: Services, project: Project): string[] {
  const scripts = new Set<string>()
  for (const service of Object.values(services)) {
    for (const mount of mountsOf(service)) {
      if (mount.type !== 'bind' || !mount.source?.startsWith('./')) continue
      const source = mount.source.slice(2)
      const files = extname(source) === '' ? project.filesIn(source) : [source]
      for (const file of files) if (file.endsWith('.sh')) scripts.add(file)
    }
  }
  return [...scripts]
}

export function checkLineEndings(services: Services, project: Project, problems: string[]): void {
  if (project.gitattributes === undefined) {
    problems.push(
      `${gitattributesPath}: missing; a Windows checkout gives the containers' shell scripts CRLF`,
    )
    return
  }
  const lines = parseGitattributes(project.gitattributes)
  const paths = [
    'any/new/script.sh',
    ...mountedScripts(services, project),
    ...Object.keys(project.dockerfiles),
  ]
  for (const path of paths) {
    if (checkoutEol(lines, path) !== 'lf') {
      const what = path === paths[0] ? '*.sh' : path
      problems.push(`${gitattributesPath}: ${what} must be checked out with eol=lf (a container runs it)`)
    }
  }
}
