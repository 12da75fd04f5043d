// Child process of the harness: runs one group of figures in a fresh process (fresh heap,
// its own simulator) and sends them back. argv: <group> <scale>.
const [group, scale] = process.argv.slice(2);
let message;
try {
  const { run } = await import(`./figures/${group}.mjs`);
  message = { figures: await run({ scale: Number(scale) }) };
} catch (error) {
  message = { error: error instanceof Error ? error.stack : String(error) };
}
// Disconnecting before the message is flushed would drop it.
process.send(message, () => process.disconnect());
