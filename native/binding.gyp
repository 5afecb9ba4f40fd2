# Build of the r1ts native addon. Every native/kernels/*.cc is compiled in
# (listed by a glob at configure time), so adding a kernel never edits this file.
# CPU features are chosen at run time (common/cpu.cc), never with -march here,
# so the binary runs on any x86-64 (and the portable path builds on arm64).
{
  "targets": [
    {
      "target_name": "r1ts",
      "sources": [
        "binding.cc",
        "common/cpu.cc",
        "common/threadpool.cc",
        "<!@(node -p \"require('fs').readdirSync('kernels').filter(f=>f.endsWith('.cc')).sort().map(f=>'kernels/'+f).join(' ')\")"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "."],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O2", "-O1", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-O2", "-O1", "-O0"],
      "cflags": ["-O3", "-fno-math-errno", "-fno-trapping-math", "-fexceptions", "-fopenmp-simd"],
      "cflags_cc": ["-O3", "-std=c++17", "-Wno-psabi", "-fno-math-errno", "-fno-trapping-math", "-fexceptions", "-fopenmp-simd", "-pthread"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-std=c++17"]
      }
    }
  ]
}
