// The ES module entry point: the same objects as the CommonJS build (dist/index.js).
import armature from './dist/index.js'

export const {
  App,
  ArmatureError,
  ConfigError,
  ContractError,
  CORE_VERSION,
  HttpError,
  Request,
  Response,
  ServerError,
} = armature
export default armature
