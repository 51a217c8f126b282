/**
 * The mode's switches reach an instance twice: in its env at boot (`MITIGATION_<NAME>`, for what
 * is decided at startup) and by `PUT /admin/mitigations` once it is healthy, read back with GET so
 * the report shows what each instance actually runs with.
 */

/** PUT the mode's switches to an instance and read them back. A non-2xx answer fails the run. */
export async function applyMitigations(
  url: string,
  path: string,
  mitigations: Record<string, boolean>,
): Promise<unknown> {
  const put = await fetch(url + path, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(mitigations),
    signal: AbortSignal.timeout(5000),
  })
  const text = await put.text()
  if (!put.ok) {
    throw new Error(
      `PUT ${path} answered ${put.status} ${text.slice(0, 200)} — set mitigationsPath: null in the system for a process that reads its switches from env only`,
    )
  }
  const get = await fetch(url + path, { signal: AbortSignal.timeout(5000) })
  const body = await get.text()
  try {
    return JSON.parse(body)
  } catch {
    return body
  }
}
