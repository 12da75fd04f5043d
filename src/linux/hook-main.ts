#!/usr/bin/env node
/**
 * What the installed hooks run: `vss-bridge hook freeze|thaw|freezeFail ...` without loading
 * the rest of the CLI (the library, the other commands). The thaw hook's start-up is part of
 * every write stall an app feels under qemu-ga (its writes wait from the freeze until the
 * thaw hook reaches it), so the hook loads only what it uses. Arguments: those of `hook`.
 */
import { hookCommand } from './commands.js';

void hookCommand(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then((code) => process.exit(code));
