{
  "variables": {
    "nne_kernel_sources": [
      "native/add_words.cc",
      "native/clip_grad.cc",
      "native/cpu.cc",
      "native/dispatch.cc",
      "native/embedding_bag.cc",
      "native/gather.cc",
      "native/glibc_floor.cc",
      "native/init.cc",
      "native/map_file.cc",
      "native/nearest.cc",
      "native/optimizers.cc",
      "native/parse_text.cc",
      "native/renorm.cc",
      "native/scatter_add.cc",
      "native/thread_pool.cc",
      "native/word2vec_binary.cc"
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
    "nne_glibc_floor_ldflags": [
      "-static-libstdc++",
      "-static-libgcc",
      "-Wl,--exclude-libs,ALL",
      "-Wl,--wrap=pthread_create",
      "-Wl,--wrap=pthread_join",
      "-Wl,--wrap=pthread_detach",
      "-Wl,--wrap=pthread_once",
      "-Wl,--wrap=pthread_key_create",
      "-Wl,--wrap=__pthread_key_create",
      "-Wl,--wrap=pthread_key_delete",
      "-Wl,--wrap=pthread_getspecific",
      "-Wl,--wrap=pthread_setspecific",
      "-Wl,--wrap=pthread_mutex_trylock",
      "-Wl,--wrap=pthread_sigmask",
      "-Wl,--wrap=pow",
      "-Wl,--wrap=fstat64",
      "-Wl,--wrap=fstat",
      "-Wl,--wrap=arc4random",
      "-Wl,--wrap=_dl_find_object"
    ],
    "nne_glibc_floor%": "<!(node -p \"process.env.NNE_GLIBC_FLOOR === '1' ? 1 : 0\")",
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
      "conditions": [
        ["OS=='linux' and nne_glibc_floor==1", {
          "defines": ["NNE_GLIBC_FLOOR"],
          "ldflags": ["<@(nne_glibc_floor_ldflags)"]
        }]
      ],
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
