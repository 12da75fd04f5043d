// CVssWriter as the Windows SDK declares it (vswriter.h, the exported, non-inline form), for
// MinGW, whose vswriter.h has only the COM interfaces. Members, their order and the single
// data member follow the SDK exactly: the vtable order (destructor, then OnIdentify ...
// OnVSSApplicationStartup) and the object layout must match what vssapi.dll was built with.
// Compiled only in the MSVC ABI (clang --target=x86_64-pc-windows-msvc), so the dllimport
// members resolve to the MSVC-mangled exports of MinGW's libvssapi.a.
#pragma once
#include <vss.h>
#include <vswriter.h>

class CVssWriter {
 public:
  __declspec(dllimport) STDMETHODCALLTYPE CVssWriter();
  __declspec(dllimport) virtual STDMETHODCALLTYPE ~CVssWriter();

  __declspec(dllimport) HRESULT STDMETHODCALLTYPE
  Initialize(VSS_ID WriterID, LPCWSTR wszWriterName, VSS_USAGE_TYPE ut, VSS_SOURCE_TYPE st,
             VSS_APPLICATION_LEVEL nLevel = VSS_APP_FRONT_END, DWORD dwTimeoutFreeze = 60000,
             VSS_ALTERNATE_WRITER_STATE aws = VSS_AWS_NO_ALTERNATE_WRITER,
             bool bIOThrottlingOnly = false, LPCWSTR wszWriterInstanceName = NULL);
  __declspec(dllimport) HRESULT STDMETHODCALLTYPE
  Subscribe(DWORD dwEventFlags = VSS_SM_BACKUP_EVENTS_FLAG | VSS_SM_RESTORE_EVENTS_FLAG);
  __declspec(dllimport) HRESULT STDMETHODCALLTYPE Unsubscribe();
  __declspec(dllimport) HRESULT STDMETHODCALLTYPE InstallAlternateWriter(VSS_ID writerId,
                                                                         CLSID persistentWriterClassId);

 protected:
  __declspec(dllimport) LPCWSTR* STDMETHODCALLTYPE GetCurrentVolumeArray() const;
  __declspec(dllimport) UINT STDMETHODCALLTYPE GetCurrentVolumeCount() const;
  __declspec(dllimport) HRESULT STDMETHODCALLTYPE
  GetSnapshotDeviceName(LPCWSTR wszOriginalVolume, LPCWSTR* ppwszSnapshotDevice) const;
  __declspec(dllimport) VSS_ID STDMETHODCALLTYPE GetCurrentSnapshotSetId() const;
  __declspec(dllimport) LONG STDMETHODCALLTYPE GetContext() const;
  __declspec(dllimport) VSS_APPLICATION_LEVEL STDMETHODCALLTYPE GetCurrentLevel() const;
  __declspec(dllimport) bool STDMETHODCALLTYPE IsPathAffected(LPCWSTR wszPath) const;
  __declspec(dllimport) bool STDMETHODCALLTYPE IsBootableSystemStateBackedUp() const;
  __declspec(dllimport) bool STDMETHODCALLTYPE AreComponentsSelected() const;
  __declspec(dllimport) VSS_BACKUP_TYPE STDMETHODCALLTYPE GetBackupType() const;
  __declspec(dllimport) VSS_RESTORE_TYPE STDMETHODCALLTYPE GetRestoreType() const;
  __declspec(dllimport) bool STDMETHODCALLTYPE IsPartialFileSupportEnabled() const;
  __declspec(dllimport) HRESULT STDMETHODCALLTYPE SetWriterFailure(HRESULT hr);

 public:
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnIdentify(IVssCreateWriterMetadata* pMetadata);
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnPrepareBackup(IVssWriterComponents* pComponent);
  virtual bool STDMETHODCALLTYPE OnPrepareSnapshot() = 0;
  virtual bool STDMETHODCALLTYPE OnFreeze() = 0;
  virtual bool STDMETHODCALLTYPE OnThaw() = 0;
  virtual bool STDMETHODCALLTYPE OnAbort() = 0;
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnBackupComplete(IVssWriterComponents* pComponent);
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnBackupShutdown(VSS_ID SnapshotSetId);
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnPreRestore(IVssWriterComponents* pComponent);
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnPostRestore(IVssWriterComponents* pComponent);
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnPostSnapshot(IVssWriterComponents* pComponent);
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnBackOffIOOnVolume(VSS_PWSZ wszVolumeName,
                                                                          VSS_ID snapshotId,
                                                                          VSS_ID providerId);
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnContinueIOOnVolume(VSS_PWSZ wszVolumeName,
                                                                           VSS_ID snapshotId,
                                                                           VSS_ID providerId);
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnVSSShutdown();
  __declspec(dllimport) virtual bool STDMETHODCALLTYPE OnVSSApplicationStartup();

 private:
  IVssWriterImpl* m_pWrapper;
};
