/**
 * The OpenAPI 3.1 document of a service, generated from its route schemas by @fastify/swagger and
 * served at `GET /openapi.json`. Every system installs it the same way, before its routes: the
 * plugin learns a route when the route is added, so routes added earlier (the kit's probes and
 * /metrics) stay out of the document, which is meant for the API's callers.
 *
 * Routes whose body a content-type parser or the handler reads itself (multipart, tus, server-sent
 * events, YAML) carry no request or response schema, because Fastify would validate and serialise
 * with it and change what they accept or answer. They describe themselves with `openApiOnly`,
 * which the document reads and Fastify never sees.
 */
import swagger, { type SwaggerTransform } from '@fastify/swagger'
import type { FastifyContextConfig, FastifyInstance, FastifySchema } from 'fastify'

export interface OpenApiOptions {
  /** `info.title`, e.g. `Faultline feed`. */
  title: string
  /** `info.version`: the API's version, not the package's. */
  version: string
  description: string
  /** The tags the routes use, in the order a reader should meet them. */
  tags?: { name: string; description?: string }[]
  /** @default '/openapi.json' */
  path?: string
}

/** The OpenAPI document version every service serves. */
export const openApiVersion = '3.1.0'

/** An extension a documentation-only route carries into the document, removed before it is served. */
const methodsKey = 'x-faultline-methods'

/**
 * Registers @fastify/swagger on the app and serves the document at `GET /openapi.json` (hidden
 * from itself). Call it before adding the routes to document. Shared schemas (`app.addSchema`)
 * keep their `$id` as their name in the document (`Error`, not `def-0`).
 */
export async function installOpenApi(app: FastifyInstance, options: OpenApiOptions): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: openApiVersion,
      info: { title: options.title, version: options.version, description: options.description },
      ...(options.tags ? { tags: options.tags } : {}),
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transformObject: (document) =>
      keepDocumentedMethods('openapiObject' in document ? document.openapiObject : {}),
  })
  app.get(options.path ?? '/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}

/** What a documentation-only route says about itself: a route schema's parts, read by the document only. */
export interface OpenApiOnly {
  summary?: string
  description?: string
  tags?: readonly string[]
  querystring?: object
  params?: object
  headers?: object
  /** A JSON schema (sent as `consumes`, default JSON) or `{ content: { '<type>': { schema } } }`. */
  body?: object
  consumes?: readonly string[]
  /** By status: a JSON schema, or `{ description, content: { '<type>': { schema } } }`. */
  response?: Record<number | string, object>
  produces?: readonly string[]
  /** The path as the document shows it, for a wildcard route (`/api/tus/{uploadId}` for `/api/tus/*`). */
  url?: string
  /**
   * The methods to document, for a route registered with `app.all` (every method Fastify knows,
   * some of which OpenAPI 3.1 cannot even name): the others are left out.
   */
  methods?: readonly string[]
}

/**
 * The route `config` of a route documented without a schema: `{ config: openApiOnly({...}) }`.
 * Fastify neither validates nor serialises with any of it, so the route behaves exactly as before.
 */
export function openApiOnly(doc: OpenApiOnly): Pick<FastifyContextConfig, 'swaggerTransform'> {
  const { url, methods, ...parts } = doc
  const swaggerTransform: SwaggerTransform = ({ schema, url: routeUrl }) => ({
    schema: {
      ...schema,
      ...parts,
      ...(methods ? { [methodsKey]: methods.map((m) => m.toLowerCase()) } : {}),
    } as FastifySchema,
    url: url ?? routeUrl,
  })
  return { swaggerTransform }
}

/**
 * The operations of a served document as `METHOD /path`, sorted: what a service's test compares
 * with the routes its issue names.
 */
export function operationsOf(document: { paths?: Record<string, object> }): string[] {
  return Object.entries(document.paths ?? {})
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort()
}

type Operation = Record<string, unknown>
type Document = Record<string, unknown> & { paths?: Record<string, Record<string, Operation>> }

/**
 * Drops the operations a documentation-only route did not list in `methods`, and the marker.
 * @fastify/swagger puts one operation object under each method of a route, so the marker is
 * found on every method of that route and on no other route's.
 */
function keepDocumentedMethods(document: object): Document {
  const doc = document as Document
  for (const pathItem of Object.values(doc.paths ?? {})) {
    const listed = new Map<Operation, Set<unknown>>()
    for (const operation of Object.values(pathItem)) {
      const methods = operation?.[methodsKey]
      if (Array.isArray(methods)) listed.set(operation, new Set(methods))
    }
    for (const [method, operation] of Object.entries(pathItem)) {
      if (listed.get(operation)?.has(method) === false) delete pathItem[method]
    }
    for (const operation of listed.keys()) delete operation[methodsKey]
  }
  return doc
}
