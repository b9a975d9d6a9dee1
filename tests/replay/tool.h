// Running drop-replay as its users do: the binary, its exit code, stdout and stderr; and a
// fingerprint of a journal directory to prove the tool left it as it was.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/hash.h"
#include "tests/support/temp_dir.h"

namespace drop::testing {

struct Run {
  int exit_code = -1;
  std::string out, err;
};

inline std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `drop-replay -j DIR ARGS...`; an empty `journal` leaves -j out.
inline Run Replay(const std::string& journal, const std::vector<std::string>& args) {
  TempDir io;
  std::string cmd = Quote(DROP_REPLAY);
  if (!journal.empty()) cmd += " -j " + Quote(journal);
  for (const std::string& a : args)
    cmd += " " + Quote(a);
  cmd += " >" + Quote(io / "out") + " 2>" + Quote(io / "err") + " </dev/null";
  int status = std::system(cmd.c_str());
  Run r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFile(io / "out");
  r.err = ReadFile(io / "err");
  return r;
}

// Every file's name, size, modification time, inode and a hash of its bytes.
inline std::string Fingerprint(const std::string& dir) {
  std::vector<std::string> lines;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    ::stat(f.path().c_str(), &st);
    std::string bytes = f.is_regular_file() ? ReadFile(f.path()) : "";
    lines.push_back(f.path().string() + " " + std::to_string(st.st_size) + " " +
                    std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
                    " " + std::to_string(st.st_ino) + " " + std::to_string(Fnv1a64(bytes)));
  }
  std::sort(lines.begin(), lines.end());
  std::string all;
  for (const std::string& l : lines)
    all += l + "\n";
  return all;
}

}  // namespace drop::testing
