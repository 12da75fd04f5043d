// Runs inside the Windows node.exe (under Wine in CI): loads the cross-built addon and drives
// the public API on the real-VSS backend as far as Wine's vssapi.dll allows. Wine implements
// CreateVssBackupComponentsInternal as E_NOTIMPL and CVssWriter's constructor, destructor,
// Initialize, Subscribe and Unsubscribe as S_OK stubs that never deliver events; nothing here
// calls one of its aborting stubs (CreateWriter, GetBackupType, SetWriterFailure, ...).
//
//   VSS_BRIDGE_ADDON=<vss_bridge.node> VSS_BRIDGE_DIST=<compiled src> node win-smoke.cjs
//   VSS_BRIDGE_DIST=<installed package>/dist node win-smoke.cjs   (the package's loader finds
//                                                                   its prebuild)
'use strict';
const assert = require('node:assert/strict');
const path = require('node:path');

const checks = [];
async function check(name, body) {
  try {
    await body();
    checks.push(`ok   ${name}`);
  } catch (error) {
    checks.push(`FAIL ${name}: ${error && error.stack ? error.stack : error}`);
  }
}

async function main() {
  process.env.VSS_BRIDGE_BACKEND = 'vss';
  const lib = require(path.join(process.env.VSS_BRIDGE_DIST, 'index.js'));
  const addon = require(path.join(process.env.VSS_BRIDGE_DIST, 'backends', 'native.js')).native();

  await check('the addon exports the portable and the Windows surface', () => {
    assert.equal(typeof addon.Dispatcher, 'function');
    assert.equal(typeof addon.SimulatedWriter, 'function');
    assert.equal(addon.napiVersion, 8);
    assert.equal(typeof addon.vss, 'object');
    for (const name of ['Writer', 'listWriters', 'runSnapshotSet', 'queryShadowCopies', 'deleteShadowCopies']) {
      assert.equal(typeof addon.vss[name], 'function', `vss.${name}`);
    }
    assert.equal(lib.backend, 'vss');
  });

  const expectNotImplemented = async (promise, what) => {
    await assert.rejects(promise, (error) => {
      assert.ok(error instanceof lib.VssError, `${what}: not a VssError: ${error}`);
      assert.equal(error.code, 'E_NOTIMPL');
      assert.equal(error.hresult, 0x80004001);
      assert.equal(error.retryable, false);
      assert.match(error.message, /CreateVssBackupComponents failed/);
      return true;
    });
  };

  await check('listWriters and gatherWriterMetadata turn E_NOTIMPL from CreateVssBackupComponents into a VssError', async () => {
    await expectNotImplemented(lib.listWriters(), 'listWriters');
    await expectNotImplemented(lib.gatherWriterMetadata(), 'gatherWriterMetadata');
  });

  await check('createShadowCopy fails with a VssError and reports no snapshot', async () => {
    const progress = [];
    await assert.rejects(lib.createShadowCopy({ volumes: ['C:\\'], onProgress: (p) => progress.push(p) }), (error) => {
      assert.ok(error instanceof lib.VssError);
      assert.equal(error.code, 'E_NOTIMPL');
      assert.deepEqual(error.result.snapshots, []);
      assert.equal(error.writer, undefined);
      return true;
    });
  });

  await check('onCommit is refused on the real backend', async () => {
    await assert.rejects(lib.createShadowCopy({ volumes: ['C:\\'], onCommit: () => undefined }), /simulated backend/);
  });

  await check('a VssWriter subscribes (CoInitializeSecurity, Initialize, Subscribe) and unsubscribes', async () => {
    const warnings = [];
    process.on('warning', (w) => warnings.push(w));
    const writer = new lib.VssWriter({
      name: 'vss-bridge smoke writer',
      id: '5f0e7b1c-9a51-4c1e-9d0b-7b8d2a6c3e41',
      usage: 'userData',
      sourceType: 'nonTransactedDb',
      components: [{ name: 'db', files: [{ path: 'C:\\vss-bridge-smoke', filespec: '*.db' }] }],
      handlers: { freeze: () => undefined },
    });
    assert.equal(writer.state, 'VSS_WS_UNKNOWN');
    await writer.subscribe();
    assert.equal(writer.subscribed, true);
    assert.equal(writer.state, 'VSS_WS_STABLE');
    const info = writer.info();
    assert.match(info.instanceId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await writer.unsubscribe();
    assert.equal(writer.subscribed, false);
    assert.equal(writer.state, 'VSS_WS_UNKNOWN');
    // Subscribing again builds a fresh CVssWriter on a fresh COM thread.
    await writer.subscribe();
    await writer.unsubscribe();
    assert.deepEqual(warnings.filter((w) => w.code === 'VSS_BRIDGE_COM_SECURITY'), []);
  });

  await check('listShadowCopies and deleteShadowCopy reach IVssBackupComponents and fail cleanly too', async () => {
    await expectNotImplemented(lib.listShadowCopies(), 'listShadowCopies');
    await expectNotImplemented(lib.deleteShadowCopy('c6e4a54e-8a2c-4d3b-9f0e-1a2b3c4d5e6f'), 'deleteShadowCopy');
  });

  console.log(checks.join('\n'));
  const failed = checks.filter((c) => c.startsWith('FAIL')).length;
  console.log(failed === 0 ? `SMOKE PASSED (${checks.length} checks)` : `SMOKE FAILED (${failed} of ${checks.length})`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main().catch((error) => {
  console.log(`SMOKE FAILED: ${error && error.stack ? error.stack : error}`);
  process.exitCode = 1;
});
