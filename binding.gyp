{
  "variables": {
    "nne_kernel_sources": [
      "native/cpu.cc",
      "native/dispatch.cc",
      "native/embedding_bag.cc",
      "native/gather.cc",
      "native/init.cc",
      "native/map_file.cc",
      "native/optimizers.cc",
      "native/renorm.cc",
      "native/scatter_add.cc",
      "native/thread_pool.cc"
    ],
    "nne_cflags": [
      "-std=c++17",
      "-O3",
      "-ffp-contract=off",
      "-fno-exceptions",
      "-fno-rtti",
      "-fvisibility=hidden",
      "-Wall",
      "-Wextra",
      "-Wno-unused-parameter"
    ],
    "nne_defines": [
      "NAPI_VERSION=8",
      "NAPI_DISABLE_CPP_EXCEPTIONS",
      "NODE_ADDON_API_DISABLE_DEPRECATED",
      "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
    ]
  },
  "targets": [
    {
      "target_name": "nn_embedding",
      "sources": ["native/binding.cc", "<@(nne_kernel_sources)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["<@(nne_defines)"],
      "cflags_cc!": ["-std=gnu++17"],
      "cflags_cc": ["<@(nne_cflags)"],
      "xcode_settings": {
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15",
        "OTHER_CPLUSPLUSFLAGS": ["<@(nne_cflags)"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "AdditionalOptions": ["/std:c++17", "/O2", "/fp:precise"]
        }
      }
    }
  ]
}
