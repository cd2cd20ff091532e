/* file.h -- internal: files as the savers and loaders need them: crash-safe writing (the native
 * model file and the Keras archive alike), reading a regular file whole, and the OS's reason for
 * a failure in a message.
 */
#ifndef DN_FILE_H
#define DN_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "densenet.h"

/* Writes buf (len bytes) to `path` atomically: a new file ".<name>.tmp<suffix>" in the same
 * directory, flushed and synced, renamed over path; the directory is synced after. On any
 * failure the temporary file is removed and path is untouched: DN_ERR_IO naming `fn`, the
 * path and the OS's reason, or DN_ERR_NOMEM. */
dn_status dn_file_write_atomic(const char *path, const void *buf, size_t len, const char *fn);

/* Reads the regular file at `path` whole into a new buffer *out (dn_free it) of *len bytes;
 * `what` names the kind of file in the size message ("a model file"). Anything but a regular
 * file (a FIFO, /dev/zero, a directory) is refused before it is opened, naming its kind, so an
 * endless stream is never read and a FIFO's open never blocks. DN_ERR_IO (cannot open or read,
 * not a regular file, with the OS's reason), DN_ERR_FORMAT (too large), DN_ERR_NOMEM. */
dn_status dn_file_read_whole(const char *path, const char *fn, const char *what, uint8_t **out,
                             size_t *len);

/* Opens `path` for reading, checking its kind twice: with stat() before the open (so a FIFO or
 * device that is refused is never opened, and an open cannot block) and with fstat() on the
 * descriptor after (a file swapped in between). A regular file is always accepted; with
 * allow_stream also a FIFO, device or socket, never a directory. A refusal is DN_ERR_IO
 * "fn: 'path' is not a regular file (it is a FIFO)<suffix>", with stream_hint added after it
 * when a stream was refused; a failed stat or open is DN_ERR_IO with the OS's reason. On
 * success *fd is open (O_CLOEXEC, blocking) and *sb describes it. */
dn_status dn_file_open_checked(const char *path, const char *fn, bool allow_stream,
                               const char *suffix, const char *stream_hint, int *fd,
                               struct stat *sb);

/* What kind of file st_mode (from stat) is, for messages: "a character device", "a FIFO",
 * "a directory", ... */
const char *dn_file_type_text(unsigned mode);

/* Test hook: make the next crash-safe saves on this thread fail at `stage` (0 = never), as a
 * crash or a full disk would, to show that the old file survives. Stages: */
enum {
  DN_MF_FAIL_NONE = 0,
  DN_MF_FAIL_OPEN,   /* creating the temporary file */
  DN_MF_FAIL_WRITE,  /* after writing half the bytes */
  DN_MF_FAIL_SYNC,   /* at fflush/fsync */
  DN_MF_FAIL_RENAME, /* after the temporary file is complete, before the rename */
};
void dn_mf_set_fail_stage(int stage);

#endif
