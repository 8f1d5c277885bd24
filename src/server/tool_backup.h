/* tool_backup — the subcommands `seqd backup`, `seqd inspect` and `seqd
 * restore` (see tool_backup.c). */
#ifndef SEQD_TOOL_BACKUP_H
#define SEQD_TOOL_BACKUP_H

/* argv[0] is the subcommand. Returns the exit code. */
int tool_main(int argc, char **argv);

#endif
