# node-gyp build of the same addon CMakeLists.txt builds (cmake-js is the default: see
# package.json). scripts/check-build-sync.mjs keeps the source lists equal. On Windows,
# writer_shim.cc is a static library of its own: gyp has no per-file options, and that file
# alone is compiled with wchar_t as unsigned short (/Zc:wchar_t-, see CMakeLists.txt).
{
  "targets": [
    {
      "target_name": "vss_bridge",
      "sources": [
        "native/addon.cc",
        "native/addon_data.cc",
        "native/bench_ping.cc",
        "native/call.cc",
        "native/convert.cc",
        "native/dispatcher.cc",
        "native/dispatcher_binding.cc",
        "native/event_queue.cc",
        "native/js_queue.cc",
        "native/simulated_writer_binding.cc",
        "native/simulator.cc",
        "native/snapshot_set.cc",
        "native/snapshot_set_binding.cc",
        "native/testing_binding.cc"
      ],
      "conditions": [
        ["OS=='linux'", {
          "sources": [
            "native/linux/fs_freeze.cc",
            "native/linux/hv_vss_channel.cc",
            "native/linux/hv_vss_msg.cc",
            "native/linux/linux_addon.cc",
            "native/linux/peer_credentials.cc"
          ]
        }],
        ["OS=='win'", {
          "sources": [
            "native/win/com.cc",
            "native/win/vss_requester.cc",
            "native/win/vss_writer.cc",
            "native/win/wide.cc",
            "native/win/win_addon.cc"
          ],
          "dependencies": ["vss_bridge_writer_shim"],
          "defines": ["NOMINMAX"],
          "libraries": ["vssapi.lib", "ole32.lib", "oleaut32.lib"]
        }]
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"
      ],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "10.15"
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17"] }
      }
    }
  ],
  "conditions": [
    ["OS=='win'", {
      "targets": [
        {
          "target_name": "vss_bridge_writer_shim",
          "type": "static_library",
          "sources": ["native/win/writer_shim.cc"],
          "defines": ["NOMINMAX"],
          "msvs_settings": {
            "VCCLCompilerTool": { "TreatWChar_tAsBuiltInType": "false", "AdditionalOptions": ["/std:c++17"] }
          }
        }
      ]
    }]
  ]
}
