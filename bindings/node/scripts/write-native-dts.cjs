// Writes native.d.ts, the addon's declarations, with @napi-rs/cli's own generator, from the type
// definitions napi-derive wrote while cargo compiled the addon (into NAPI_TYPE_DEF_TMP_FOLDER).
// `napi build` would do both steps, but it always passes `--target <host triple>` to cargo,
// which builds every crate a second time in target/<triple>/ instead of reusing the workspace's
// target/<profile>/ (five minutes on a 2-core machine); ci/node-env runs cargo itself.
// Usage: node scripts/write-native-dts.cjs <type-def folder> <output file>
'use strict'

const { writeFileSync } = require('node:fs')
const { generateTypeDef } = require('@napi-rs/cli')

async function main() {
  const [typeDefDir, output] = process.argv.slice(2)
  if (!typeDefDir || !output) throw new Error('usage: write-native-dts.cjs <type-def folder> <output file>')
  // The options `napi build --dts` passes for a package without a generated loader.
  const { dts } = await generateTypeDef({ typeDefDir, cwd: process.cwd(), declareBindingTarget: false })
  if (!dts.includes('export declare class Service')) {
    throw new Error(`no type definitions of the addon in ${typeDefDir}: was it compiled with NAPI_TYPE_DEF_TMP_FOLDER set?`)
  }
  // The addon's declarations use Buffer: a consumer's TypeScript (6 and later) no longer includes
  // @types/node unless asked, so the file asks for it (the package depends on @types/node).
  writeFileSync(output, `/// <reference types="node" />\n${dts}`)
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
