/**
 * The errors Armature throws while building or running a service. The message is core's own,
 * naming the file, key or document place at fault.
 */

/** Base class of the errors Armature throws. */
export class ArmatureError extends Error {
  override name = 'ArmatureError'
}

/** The configuration cannot be loaded or is invalid (also: a key file, a policy, a telemetry endpoint). */
export class ConfigError extends ArmatureError {
  override name = 'ConfigError'
}

/** The contract cannot be served, or a handler does not fit it. */
export class ContractError extends ArmatureError {
  override name = 'ContractError'
}

/** The server cannot start (the port is taken, for instance). */
export class ServerError extends ArmatureError {
  override name = 'ServerError'
}

const BY_CODE: Record<string, new (message: string) => ArmatureError> = {
  ARMATURE_CONFIG: ConfigError,
  ARMATURE_CONTRACT: ContractError,
  ARMATURE_SERVER: ServerError,
  ARMATURE_STATE: ArmatureError,
}

/** Runs a call into the addon, turning its coded errors into the classes above. */
export function native<T>(call: () => T): T {
  try {
    return call()
  } catch (error) {
    throw translate(error)
  }
}

/** The class of a coded addon error; other errors unchanged. */
export function translate(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code
  const kind = typeof code === 'string' ? BY_CODE[code] : undefined
  if (kind === undefined) return error
  return new kind((error as Error).message)
}
