{
  "targets": [
    {
      "target_name": "tidemq",
      "sources": [
        "native/addon.cc",
        "native/crc32.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Werror", "-O3"],
      "cflags": ["-Wall", "-Wextra", "-Werror"]
    }
  ]
}
