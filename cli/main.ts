/** Entry point of the `mloop` command (bin/mloop runs it); the commands are in program.ts. */
import { exitCodes } from './exit-codes';
import { main } from './program';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`mloop: ${(err as Error).message}`);
    process.exit(exitCodes.failed);
  },
);
