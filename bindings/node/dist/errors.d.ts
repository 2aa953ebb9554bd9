/**
 * The errors Armature throws while building or running a service. The message is core's own,
 * naming the file, key or document place at fault.
 */
/** Base class of the errors Armature throws. */
export declare class ArmatureError extends Error {
    name: string;
}
/** The configuration cannot be loaded or is invalid (also: a key file, a policy, a telemetry endpoint). */
export declare class ConfigError extends ArmatureError {
    name: string;
}
/** The contract cannot be served, or a handler does not fit it. */
export declare class ContractError extends ArmatureError {
    name: string;
}
/** The server cannot start (the port is taken, for instance). */
export declare class ServerError extends ArmatureError {
    name: string;
}
/** Runs a call into the addon, turning its coded errors into the classes above. */
export declare function native<T>(call: () => T): T;
/** The class of a coded addon error; other errors unchanged. */
export declare function translate(error: unknown): unknown;
