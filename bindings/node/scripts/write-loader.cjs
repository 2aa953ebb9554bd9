// Writes the root package's loader for a release (ci/release) with @napi-rs/cli's own generator:
// it loads `armature.<platform>.node` beside it when there is one, otherwise the platform package
// (`@armature/core-linux-x64-gnu`), and names the platforms a user is missing when neither loads.
// The export list is read from the built addon itself, so the loader re-exports exactly what it has.
// Usage: node scripts/write-loader.cjs <built addon .node> <version> <output file>
'use strict'

const { readFileSync, writeFileSync, mkdtempSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const path = require('node:path')
const { writeJsBinding } = require('@napi-rs/cli')

async function main() {
  const [addon, version, output] = process.argv.slice(2)
  if (!addon || !version || !output) throw new Error('usage: write-loader.cjs <addon.node> <version> <output file>')
  const idents = Object.keys(require(path.resolve(addon))).sort()
  if (!idents.includes('Service')) throw new Error(`${addon} exports no Service: is it Armature's addon?`)
  const { name, napi } = JSON.parse(readFileSync('package.json', 'utf8'))
  const outputDir = mkdtempSync(path.join(tmpdir(), 'armature-loader-'))
  try {
    const written = await writeJsBinding({
      platform: true,
      idents,
      binaryName: napi.binaryName,
      packageName: name,
      version,
      outputDir,
      jsBinding: 'loader.js',
    })
    if (!written) throw new Error('@napi-rs/cli wrote no loader')
    writeFileSync(output, readFileSync(path.join(outputDir, 'loader.js')))
  } finally {
    rmSync(outputDir, { recursive: true, force: true })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
