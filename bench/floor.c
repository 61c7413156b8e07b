/*
 * The physical floor of a cold scan: walk a tree without following symlinks and read every
 * regular file raw into one reused buffer; nothing is parsed or written. Compiled with gcc by
 * bench/scan.mjs into a temp dir at bench time. Usage: floor ROOT. Prints files and bytes read.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char buf[1 << 20];
static unsigned long files, bytes;

static int read_all(int dirfd, const char *name) {
  int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) bytes += (unsigned long)n;
  close(fd);
  files++;
  return n < 0 ? -1 : 0;
}

static int walk(int dirfd) {
  DIR *d = fdopendir(dirfd);
  if (d == NULL) return -1;
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    unsigned char type = e->d_type;
    if (type == DT_UNKNOWN) {
      struct stat st;
      if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
    }
    if (type == DT_REG) {
      if (read_all(dirfd, e->d_name) != 0) rc = -1;
    } else if (type == DT_DIR) {
      int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0 || walk(sub) != 0) rc = -1;
    }
  }
  closedir(d);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: floor ROOT\n");
    return 2;
  }
  int root = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0 || walk(root) != 0) {
    perror(argv[1]);
    return 1;
  }
  printf("%lu files, %lu bytes\n", files, bytes);
  return 0;
}
