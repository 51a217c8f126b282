import { readFile } from 'node:fs/promises'
import { RulesFileError } from '../file-source.ts'
import { formatOfPath, type LoadedRules } from '../parse.ts'
import { loadRulesInput, type RulesInput } from '../source.ts'

/**
 * Reads and checks RULES_FILE: its input (to apply to Redis) and the compiled ruleset. Throws
 * RulesFileError with every reason, as the file source does at boot.
 */
export async function readRulesFile(path: string): Promise<LoadedRules & { input: RulesInput }> {
  const format = formatOfPath(path)
  if (!format) throw new RulesFileError(path, [`(file): ${path} must end in .yaml, .yml or .json`])
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new RulesFileError(path, [
      `(file): cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    ])
  }
  const input: RulesInput = { text, format }
  const loaded = loadRulesInput(input)
  if (!loaded.ok) throw new RulesFileError(path, loaded.problems)
  return { ...loaded.value, input }
}
