#include "wide.h"

#include <vss.h>
#include <vswriter.h>  // VSS_USAGE_TYPE, VSS_SOURCE_TYPE

#include <cstdio>

namespace vssb {

std::wstring Widen(const std::string& utf8) {
  if (utf8.empty()) return std::wstring();
  const int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(n > 0 ? n : 0, L'\0');
  if (n > 0) MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), &out[0], n);
  return out;
}

std::string Narrow(const wchar_t* utf16) {
  if (utf16 == nullptr || utf16[0] == 0) return std::string();
  const int n = WideCharToMultiByte(CP_UTF8, 0, utf16, -1, nullptr, 0, nullptr, nullptr);
  if (n <= 1) return std::string();
  std::string out(n, '\0');
  WideCharToMultiByte(CP_UTF8, 0, utf16, -1, &out[0], n, nullptr, nullptr);
  out.resize(n - 1);  // drop the terminating null
  return out;
}

std::string GuidString(const GUID& g) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                static_cast<unsigned long>(g.Data1), g.Data2, g.Data3, g.Data4[0], g.Data4[1],
                g.Data4[2], g.Data4[3], g.Data4[4], g.Data4[5], g.Data4[6], g.Data4[7]);
  return buffer;
}

bool ParseGuid(const std::string& text, GUID* guid) {
  std::string s = text;
  if (s.size() == 38 && s.front() == '{' && s.back() == '}') s = s.substr(1, 36);
  if (s.size() != 36) return false;
  unsigned long d1 = 0;
  unsigned d2 = 0, d3 = 0, b[8] = {};
  char tail = 0;
  if (std::sscanf(s.c_str(), "%8lx-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x%c", &d1, &d2, &d3, &b[0], &b[1],
                  &b[2], &b[3], &b[4], &b[5], &b[6], &b[7], &tail) != 11) {
    return false;
  }
  guid->Data1 = d1;
  guid->Data2 = static_cast<unsigned short>(d2);
  guid->Data3 = static_cast<unsigned short>(d3);
  for (int i = 0; i < 8; i++) guid->Data4[i] = static_cast<unsigned char>(b[i]);
  return true;
}

namespace {
struct NamedValue {
  const char* name;
  int value;
};
const NamedValue kBackupTypes[] = {
    {"full", VSS_BT_FULL},   {"incremental", VSS_BT_INCREMENTAL}, {"differential", VSS_BT_DIFFERENTIAL},
    {"log", VSS_BT_LOG},     {"copy", VSS_BT_COPY},               {"other", VSS_BT_OTHER},
};
const NamedValue kUsageTypes[] = {
    {"bootableSystemState", VSS_UT_BOOTABLESYSTEMSTATE}, {"systemService", VSS_UT_SYSTEMSERVICE},
    {"userData", VSS_UT_USERDATA},                       {"other", VSS_UT_OTHER},
};
const NamedValue kSourceTypes[] = {
    {"transactedDb", VSS_ST_TRANSACTEDDB}, {"nonTransactedDb", VSS_ST_NONTRANSACTEDDB}, {"other", VSS_ST_OTHER},
};

template <size_t N>
const char* NameOf(const NamedValue (&table)[N], int value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "other";
}

template <size_t N>
int ValueOf(const NamedValue (&table)[N], const std::string& name, int fallback) {
  for (const auto& entry : table) {
    if (name == entry.name) return entry.value;
  }
  return fallback;
}
}  // namespace

const char* BackupTypeName(int value) { return NameOf(kBackupTypes, value); }
int BackupTypeValue(const std::string& name) { return ValueOf(kBackupTypes, name, VSS_BT_UNDEFINED); }
const char* UsageTypeName(int value) { return NameOf(kUsageTypes, value); }
int UsageTypeValue(const std::string& name) { return ValueOf(kUsageTypes, name, VSS_UT_OTHER); }
const char* SourceTypeName(int value) { return NameOf(kSourceTypes, value); }
int SourceTypeValue(const std::string& name) { return ValueOf(kSourceTypes, name, VSS_ST_OTHER); }

}  // namespace vssb
