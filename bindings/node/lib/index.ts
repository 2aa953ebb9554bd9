/**
 * Armature for Node: write handlers in TypeScript or JavaScript; core (Rust) does the HTTP,
 * routing, identity, Rego policy, validation against the OpenAPI contract, RFC 9457 problems
 * and telemetry, byte for byte as for every other language. See docs/node.md.
 */

export { App } from './app'
export type {
  Address,
  AppOptions,
  InjectOptions,
  InjectResponse,
  JsonSchema,
  ListenOptions,
  OperationOptions,
  RouteOptions,
  RouteRequest,
} from './app'
export type { FromSchema } from './schema'
export type { Handler } from './dispatch'
export { ArmatureError, ConfigError, ContractError, ServerError } from './errors'
export { Request } from './request'
export type { ClientSpan, Identity, Params } from './request'
export { HttpError, Reply } from './response'
export type { Headers } from './response'

import { CORE_VERSION as coreVersion } from '../native'

/** The version of armature-core the addon was built from. */
export const CORE_VERSION: string = coreVersion
