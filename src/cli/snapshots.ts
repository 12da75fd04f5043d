/** `vss-bridge snapshots list|delete`: the shadow copies kept by `checkpoint --keep`. */
import { z } from 'zod';
import { backend, deleteShadowCopy, listShadowCopies, type KeptShadowCopy } from '../index.js';
import { helpOption, jsonOption, UsageError, defineCommand, type Command } from './command.js';
import { exitCodes } from './exit-codes.js';
import { json, styleFor, table } from './io.js';

const schema = z
  .object({
    json: z.boolean().default(false),
    all: z.boolean().default(false),
    _: z.array(z.string()),
  })
  .superRefine((v, ctx) => {
    const [action, ...ids] = v._;
    if (action !== 'list' && action !== 'delete') {
      ctx.addIssue({ code: 'custom', path: ['_'], message: 'say "list" or "delete"' });
    } else if (action === 'list' && (ids.length > 0 || v.all)) {
      ctx.addIssue({ code: 'custom', path: ['_'], message: 'list takes no ids and no --all' });
    } else if (action === 'delete' && ids.length === 0 && !v.all) {
      ctx.addIssue({ code: 'custom', path: ['_'], message: 'delete needs shadow copy or snapshot set ids, or --all' });
    } else if (action === 'delete' && ids.length > 0 && v.all) {
      ctx.addIssue({ code: 'custom', path: ['all'], message: 'give ids or --all, not both' });
    }
  });

export const snapshotsCommand: Command = defineCommand({
  name: 'snapshots',
  summary: 'List or delete the shadow copies kept by `checkpoint --keep` (vssadmin list/delete shadows).',
  usage: 'snapshots list [--json] | snapshots delete <id...> | snapshots delete --all',
  details: `
delete takes shadow copy ids or snapshot set ids (deleting every copy of that set).
Exit code 1 when an id names no shadow copy (VSS_E_OBJECT_NOT_FOUND); the others are still deleted.
The simulator keeps its shadow copies in $VSS_BRIDGE_STATE_DIR (default ~/.local/state/vss-bridge).`,
  options: { json: jsonOption, all: { type: 'boolean', description: 'delete: every kept shadow copy' }, help: helpOption },
  schema,
  async run(values, io) {
    const [action, ...ids] = values._;
    const style = styleFor(io.stdout);
    if (action === 'list') {
      const copies = await listShadowCopies();
      if (values.json) {
        json(io, { backend, shadowCopies: copies });
      } else if (copies.length === 0) {
        io.stdout.write('no shadow copies kept\n');
      } else {
        io.stdout.write(
          table(
            ['SHADOW COPY ID', 'VOLUME', 'DEVICE', 'SNAPSHOT SET', 'TYPE', 'CREATED'],
            copies.map((c) => [c.id, c.volume, c.deviceObject, c.snapshotSetId, c.backupType ?? '-', c.createdAt]),
            style,
          ),
        );
      }
      return 0;
    }
    const targets = values.all ? (await listShadowCopies()).map((c) => c.id) : ids;
    const deleted: KeptShadowCopy[] = [];
    const missing: string[] = [];
    for (const id of targets) {
      try {
        deleted.push(...(await deleteShadowCopy(id)));
      } catch (error) {
        if ((error as { code?: string }).code === 'VSS_E_OBJECT_NOT_FOUND') missing.push(id);
        else if ((error as Error).name === 'OptionsError') throw new UsageError(`snapshots delete: ${(error as Error).message}`);
        else throw error;
      }
    }
    if (values.json) json(io, { deleted, missing });
    else {
      for (const c of deleted) io.stdout.write(`deleted shadow copy ${c.id} (${c.volume}, ${c.deviceObject})\n`);
      if (deleted.length === 0 && missing.length === 0) io.stdout.write('no shadow copies kept\n');
    }
    for (const id of missing) io.stderr.write(`${styleFor(io.stderr).red('not found:')} no shadow copy or snapshot set with id ${id}\n`);
    return missing.length > 0 ? exitCodes.failure : exitCodes.success;
  },
});
