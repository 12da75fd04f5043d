// A requester of the tests' own (never shipped) that calls the emulated
// IVssBackupComponents::AddComponent with whatever components it is given, including those the
// library never adds (a member of a component set), and prints each answer:
//
//   add-component-probe.exe <writer name> <logical path\name>...
//     -> "AddComponent <logical path\name> 0x<HRESULT>" a component,
//        or "probe-failed <call> 0x<HRESULT>" (exit 1) when the calls before could not be made.
//
// It follows the documented order for a component-mode backup up to AddComponent
// (InitializeForBackup, SetBackupState, GatherWriterMetadata), then releases the object without
// starting a snapshot set. Linked against the emulated vssapi.dll (test/emulator/build.sh).
#include <windows.h>
#include <objbase.h>
#include <vss.h>
#include <vswriter.h>
#include <vsbackup.h>

#include <cstdio>
#include <string>

namespace {

std::wstring Widen(const char* s) {
  const int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, nullptr, 0);
  std::wstring out(n > 0 ? n - 1 : 0, L'\0');
  if (n > 1) MultiByteToWideChar(CP_UTF8, 0, s, -1, &out[0], n);
  return out;
}

int Failed(const char* call, HRESULT hr) {
  std::printf("probe-failed %s 0x%08lX\n", call, static_cast<unsigned long>(hr));
  return 1;
}

// The writer instance called `name` in the metadata GatherWriterMetadata gathered.
HRESULT FindWriter(IVssBackupComponents* bc, const std::wstring& name, VSS_ID* instance, VSS_ID* writer) {
  UINT count = 0;
  HRESULT hr = bc->GetWriterMetadataCount(&count);
  if (FAILED(hr)) return hr;
  for (UINT i = 0; i < count; i++) {
    IVssExamineWriterMetadata* metadata = nullptr;
    hr = bc->GetWriterMetadata(i, instance, &metadata);
    if (FAILED(hr)) return hr;
    VSS_ID instance_again;
    BSTR writer_name = nullptr;
    VSS_USAGE_TYPE usage;
    VSS_SOURCE_TYPE source;
    hr = metadata->GetIdentity(&instance_again, writer, &writer_name, &usage, &source);
    metadata->Release();
    const bool found = SUCCEEDED(hr) && writer_name != nullptr && name == writer_name;
    SysFreeString(writer_name);
    if (FAILED(hr)) return hr;
    if (found) return S_OK;
  }
  return VSS_E_OBJECT_NOT_FOUND;
}

int Probe(IVssBackupComponents* bc, int argc, char** argv) {
  HRESULT hr = bc->InitializeForBackup(nullptr);
  if (FAILED(hr)) return Failed("InitializeForBackup", hr);
  hr = bc->SetBackupState(true, false, VSS_BT_COPY, false);
  if (FAILED(hr)) return Failed("SetBackupState", hr);
  IVssAsync* async = nullptr;
  hr = bc->GatherWriterMetadata(&async);
  if (FAILED(hr)) return Failed("GatherWriterMetadata", hr);
  hr = async->Wait(60000);
  HRESULT status = E_FAIL;
  if (SUCCEEDED(hr)) hr = async->QueryStatus(&status, nullptr);
  async->Release();
  if (FAILED(hr)) return Failed("IVssAsync::Wait", hr);
  if (status != VSS_S_ASYNC_FINISHED) return Failed("GatherWriterMetadata (status)", status);
  VSS_ID instance, writer;
  hr = FindWriter(bc, Widen(argv[1]), &instance, &writer);
  if (FAILED(hr)) return Failed("GetWriterMetadata (the writer named)", hr);
  for (int i = 2; i < argc; i++) {
    const std::wstring path = Widen(argv[i]);
    const size_t slash = path.rfind(L'\\');
    const std::wstring logical = slash == std::wstring::npos ? L"" : path.substr(0, slash);
    const std::wstring name = slash == std::wstring::npos ? path : path.substr(slash + 1);
    hr = bc->AddComponent(instance, writer, VSS_CT_FILEGROUP, logical.empty() ? nullptr : logical.c_str(), name.c_str());
    std::printf("AddComponent %s 0x%08lX\n", argv[i], static_cast<unsigned long>(hr));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: add-component-probe.exe <writer name> <logical path\\name>...\n");
    return 2;
  }
  const HRESULT com = CoInitializeEx(nullptr, COINIT_MULTITHREADED);
  if (FAILED(com)) return Failed("CoInitializeEx", com);
  IVssBackupComponents* bc = nullptr;
  const HRESULT hr = CreateVssBackupComponentsInternal(&bc);
  const int status = FAILED(hr) ? Failed("CreateVssBackupComponents", hr) : Probe(bc, argc, argv);
  if (bc != nullptr) bc->Release();
  CoUninitialize();
  std::fflush(stdout);
  return status;
}
