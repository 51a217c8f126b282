/**
 * The one rule for a photo's filename — a label we store and show, never a path: 1–255 characters
 * and no control characters (Postgres `text` refuses NUL; a newline or an escape would garble
 * logs and lists).
 */
const controlCharacters = /\p{Cc}/u

/** What is wrong with `name` as a filename, in the words of a 4xx; undefined when nothing is. */
export function filenameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255)
    return 'must be a string of 1–255 characters'
  if (controlCharacters.test(name)) return 'must not contain control characters'
  return undefined
}

/**
 * The client's filename when it follows the rule, else none. For the routes that receive the
 * bytes before anything could refuse the name (multipart, tus, the reaper's recovery of a tus
 * upload): a bad name costs the photo its label, never the upload.
 */
export function usableFilename(name: unknown): string | undefined {
  return filenameProblem(name) === undefined ? (name as string) : undefined
}
