// Forced into writer_shim.cc where MinGW's headers stand in for the Windows SDK's: by the
// MinGW cross-build (with `-Xclang -fno-wchar`) and by scripts/check-vssapi-names.sh (clang-cl
// with /Zc:wchar_t-). vssapi.dll was built with wchar_t as unsigned short (/Zc:wchar_t-), so
// its exported CVssWriter members mangle WCHAR as `G`. Under /Zc:wchar_t- the SDK's own CRT
// headers typedef wchar_t as unsigned short; MinGW's do that only for C, so this file does it.
// MSVC builds against the SDK never see this file.
#pragma once
typedef unsigned short wchar_t;
