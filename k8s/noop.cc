// drop-noop: the program a drop pod's target container runs, so any image "runs" and exits 0,
// even scratch and distroless ones without a shell. It ships in the operator's image; the drop
// pod's init container runs `drop-noop install /drop/noop` to copy it into a shared emptyDir.
// Static, with no C++ runtime: it must run on any Linux node whatever the target image holds.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

int Fail(const char* what) {
  const char* msg = "drop-noop: ";
  (void)!write(2, msg, strlen(msg));
  (void)!write(2, what, strlen(what));
  (void)!write(2, "\n", 1);
  return 1;
}

// Copies this executable to `dest` (mode 0555), via a temporary name so a reader never sees
// half a file.
int Install(const char* dest) {
  int in = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (in < 0) return Fail("cannot read /proc/self/exe");
  char tmp[4096];
  size_t n = strlen(dest);
  if (n + 5 >= sizeof tmp) return Fail("destination path too long");
  memcpy(tmp, dest, n);
  memcpy(tmp + n, ".tmp", 5);
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0555);
  if (out < 0) return Fail("cannot create the destination (is its directory writable?)");
  char buf[65536];
  ssize_t r;
  while ((r = read(in, buf, sizeof buf)) > 0) {
    for (ssize_t done = 0; done < r;) {
      ssize_t w = write(out, buf + done, static_cast<size_t>(r - done));
      if (w <= 0) return Fail("write failed");
      done += w;
    }
  }
  if (r < 0 || fchmod(out, 0555) != 0 || close(out) != 0) return Fail("copy failed");
  close(in);
  if (rename(tmp, dest) != 0) return Fail("rename failed");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "install") == 0) return Install(argv[2]);
  return 0;
}
