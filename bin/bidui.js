#!/usr/bin/env node
// Everything bidui writes (store, logs, outputs, temp files) may hold personal data:
// create it readable by the owner only.
process.umask(0o077);
// Interrupted (Ctrl-C, kill): exit through process.exit so that temporary copies of exports are
// removed ('exit' handlers); the store is transactional and loses nothing committed.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
  process.once(signal, () => process.exit(code));
}

const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv);
