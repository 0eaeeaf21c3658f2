# Portable build of the addon with node-gyp (`npm run build:gyp`): the reference backend only, no optional
# dependency. Sources come from native/sources.json, the same list CMakeLists.txt reads.
{
  "targets": [
    {
      "target_name": "eos_native",
      "sources": [
        "<!@(node -p \"const s = require('./native/sources.json'); s.common.concat(s.addon).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "EOS_BUILD_SYSTEM=\"node-gyp\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fopenmp", "-Wall", "-Wno-unused-parameter"],
      "ldflags": ["-fopenmp"]
    }
  ]
}
