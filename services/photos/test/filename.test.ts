/** The filename rule: one for every route (a 400 on the presigned route, a dropped label elsewhere). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { filenameProblem, usableFilename } from '../src/uploads/filename.ts'

test('a name of 1–255 characters without control characters is kept', () => {
  for (const name of ['beach.jpg', 'IMG_0001.HEIC', 'été à Paris.png', 'x'.repeat(255)]) {
    assert.equal(filenameProblem(name), undefined, name)
    assert.equal(usableFilename(name), name)
  }
})

test('empty, too long, not a string, NUL, newline or escape: a problem, and no name kept', () => {
  const cases: [unknown, string][] = [
    ['', 'must be a string of 1–255 characters'],
    ['x'.repeat(256), 'must be a string of 1–255 characters'],
    [42, 'must be a string of 1–255 characters'],
    ['a\u0000b.jpg', 'must not contain control characters'],
    ['a\nb.jpg', 'must not contain control characters'],
    ['\u001b[31mred.jpg', 'must not contain control characters'],
  ]
  for (const [name, problem] of cases) {
    assert.equal(filenameProblem(name), problem, JSON.stringify(name))
    assert.equal(usableFilename(name), undefined)
  }
})
