{
  "targets": [
    {
      "target_name": "tidemq",
      "sources": [
        "native/addon.cc",
        "native/crc32.cc",
        "native/dir_lock.cc",
        "native/dir_lock_wrap.cc",
        "native/flush.cc",
        "native/flush_wrap.cc",
        "native/js_util.cc",
        "native/mapped_file.cc",
        "native/mapped_file_wrap.cc",
        "native/mapping_registry.cc",
        "native/page_hints.cc",
        "native/page_hints_wrap.cc",
        "native/prefault_service.cc",
        "native/probes.cc",
        "native/probes_wrap.cc",
        "native/recovery_scan.cc",
        "native/recovery_scan_wrap.cc",
        "native/record_seal.cc",
        "native/record_seal_wrap.cc"
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
