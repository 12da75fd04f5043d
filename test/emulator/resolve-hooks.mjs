// Loaded by scripts/wine-node.sh (--import): `import 'vss-bridge'` resolves to this package
// from the staging folder's node_modules, as `require` does through NODE_PATH.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const stage = process.env.VSS_BRIDGE_WINE_STAGE;
if (stage) {
  const parentURL = pathToFileURL(`${stage}\\resolve-from.mjs`).href;
  register(
    `data:text/javascript,${encodeURIComponent(`
      export async function resolve(specifier, context, next) {
        if (specifier === 'vss-bridge' || specifier.startsWith('vss-bridge/')) {
          return next(specifier, { ...context, parentURL: ${JSON.stringify(parentURL)} });
        }
        return next(specifier, context);
      }`)}`,
  );
}
