/**
 * TypeScript types inferred from the JSON Schemas a code-first route declares, so that a
 * handler reads `req.params.path.id` as the `number` its schema says, as Fastify's JSON-schema
 * type provider does.
 *
 * Written here rather than taken from json-schema-to-ts: these types are compiled by every
 * consumer's TypeScript, whatever its version (5.x or the native 7.x), and json-schema-to-ts'
 * general ones are deep enough to slow that compile noticeably and to depend on its behaviour;
 * what a code-first route declares (scalars, enums, arrays, objects with `properties` and
 * `required`, nullable type lists, `anyOf`/`oneOf`) fits in these few lines, which the
 * package's own compile tests hold (test/types.test.ts). Anything else is `unknown`: never a
 * wrong type, at worst an unchecked one.
 */

/** A JSON Schema (core validates requests and responses against it). */
export type JsonSchema = Record<string, unknown> | boolean

/** The type of a value valid against the JSON Schema `S` (given as a literal: a `const` type). */
export type FromSchema<S> = S extends true
  ? unknown
  : S extends false
    ? never
    : S extends { const: infer C }
      ? C
      : S extends { enum: readonly (infer E)[] }
        ? E
        : S extends { anyOf: readonly (infer A)[] }
          ? FromSchema<A>
          : S extends { oneOf: readonly (infer A)[] }
            ? FromSchema<A>
            : S extends { type: readonly (infer T)[] }
              ? FromType<T, S>
              : S extends { type: infer T }
                ? FromType<T, S>
                : unknown

/** One `type` (distributes over a union of them: `['string', 'null']` is `string | null`). */
type FromType<T, S> = T extends 'string'
  ? string
  : T extends 'integer' | 'number'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? S extends { items: infer I }
            ? FromSchema<I>[]
            : unknown[]
          : T extends 'object'
            ? FromObject<S>
            : unknown

type RequiredKeys<S> = S extends { required: readonly (infer R)[] } ? R : never

type Simplify<T> = { [K in keyof T]: T[K] } & {}

type FromObject<S> = S extends { properties: infer P }
  ? Simplify<
      { -readonly [K in keyof P & RequiredKeys<S>]: FromSchema<P[K]> } & {
        -readonly [K in Exclude<keyof P, RequiredKeys<S>>]?: FromSchema<P[K]>
      } & (S extends { additionalProperties: false } ? unknown : Record<string, unknown>)
    >
  : Record<string, unknown>

/** The `{name}` parameters of a path template: `'/users/{id}/notes/{noteId}'` gives `'id' | 'noteId'`. */
export type PathParamNames<P extends string> = P extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParamNames<Rest>
  : never

/** Path parameters: every name of the template, typed by its schema when it has one, else a string. */
export type PathParamsOf<P extends string, Schemas> = Simplify<{
  [K in PathParamNames<P>]: Schemas extends Record<K, infer S> ? FromSchema<S> : string
}>

/** Query parameters: each optional, unless its schema has a `default` (core then supplies it). */
export type QueryParamsOf<Schemas> = Schemas extends Record<string, JsonSchema>
  ? Simplify<
      { -readonly [K in keyof Schemas as Schemas[K] extends { default: unknown } ? K : never]: FromSchema<Schemas[K]> } & {
        -readonly [K in keyof Schemas as Schemas[K] extends { default: unknown } ? never : K]?: FromSchema<Schemas[K]>
      }
    >
  : Record<string, unknown>

/** The body's type from its schema; `unknown` when the route declares none. */
export type BodyOf<Schema> = [Schema] extends [undefined] ? unknown : FromSchema<Schema>
