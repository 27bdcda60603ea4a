#!/usr/bin/env node
// Everything bidui writes (store, logs, outputs, temp files) may hold personal data:
// create it readable by the owner only.
process.umask(0o077);
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv);
