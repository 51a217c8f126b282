/**
 * How a feed experiment hands its users to k6. The users exist only once `setup` has made them
 * (through the API, or seeded by COPY), after the load's env is fixed, so their ids go into a JSON
 * file (`{"users": ["<id>", …]}`) whose path is in the load's env (`USERS_FILE`) and which the k6
 * script reads with `open()`. The file lives in the lab's scratch directory (`.faultline/lab/`,
 * gitignored); one lab run at a time, so one file per experiment is enough. pm14 and pm02 use it;
 * pm02 also records what it seeded (`about`), to reuse the graph on the next run.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

export interface UsersFile {
  users: string[]
  /** What the users are (pm02: the seed spec), for the experiment that wrote it. */
  about?: unknown
}

/** The users file of one experiment, e.g. `usersFile('pm14')`. */
export function usersFile(experimentId: string): string {
  return join(repoRoot, '.faultline', 'lab', `feed-${experimentId}-users.json`)
}

export function writeUsersFile(path: string, userIds: readonly string[], about?: unknown): void {
  if (userIds.length === 0) throw new Error(`no user to write to ${path}`)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, JSON.stringify({ users: userIds, ...(about === undefined ? {} : { about }) }))
}

/** The file's content, or undefined when there is none (or it is not one of ours). */
export function readUsersFile(path: string): UsersFile | undefined {
  if (!existsSync(path)) return undefined
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as UsersFile
    return Array.isArray(parsed.users) ? parsed : undefined
  } catch {
    return undefined
  }
}
