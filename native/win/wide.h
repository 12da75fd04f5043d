// Text and ids as Windows and VSS spell them: UTF-16 strings, GUIDs, backup types.
#pragma once
#include <windows.h>

#include <string>

namespace vssb {

std::wstring Widen(const std::string& utf8);
std::string Narrow(const wchar_t* utf16);  // null gives ""
inline std::string Narrow(const std::wstring& utf16) { return Narrow(utf16.c_str()); }

// Lowercase, no braces: the form the TypeScript layer uses.
std::string GuidString(const GUID& guid);
// Accepts the form above, with or without braces. False when malformed.
bool ParseGuid(const std::string& text, GUID* guid);

// VSS_BACKUP_TYPE <-> the backup type names of the TypeScript API ('other' for the rest).
const char* BackupTypeName(int vss_backup_type);
int BackupTypeValue(const std::string& name);  // VSS_BT_UNDEFINED when unknown

// VSS_USAGE_TYPE and VSS_SOURCE_TYPE <-> the names of the TypeScript API ('other' for the rest).
const char* UsageTypeName(int vss_usage_type);
int UsageTypeValue(const std::string& name);
const char* SourceTypeName(int vss_source_type);
int SourceTypeValue(const std::string& name);

}  // namespace vssb
