// Forced into writer_shim.cc by the MinGW cross-build only (-include), together with
// `-Xclang -fno-wchar`: vssapi.dll was built with wchar_t as unsigned short (/Zc:wchar_t-), so
// its exported CVssWriter members mangle WCHAR as `G`. Making wchar_t a typedef of unsigned
// short gives clang the same mangled names. MSVC builds use the SDK's inline CVssWriter and
// never see this file.
#pragma once
typedef unsigned short wchar_t;
