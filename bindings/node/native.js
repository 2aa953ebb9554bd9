// Loads the addon that ci/node-env builds and copies next to this file. Written by hand, not
// napi's generated loader: the package ships one platform's addon, built where it is packed.
'use strict'
module.exports = require('./armature.node')
