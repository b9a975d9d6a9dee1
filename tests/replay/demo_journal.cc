// replay_demo_journal DIR: writes the journal of the demo's scenario (recorded.h) to DIR, for
// trying drop-replay by hand and for the README's session.
#include <cstdio>
#include <string_view>

#include "tests/replay/recorded.h"

int main(int argc, char** argv) {
  if (argc != 2 || argv[1][0] == '-') {  // --help is not a directory to write into
    std::fprintf(stderr, "usage: replay_demo_journal DIR\n");
    return argc == 2 && std::string_view(argv[1]) == "--help" ? 0 : 2;
  }
  drop::testing::WriteOptions o;
  o.snapshot_every_entries = 1000;
  drop::Status s = drop::testing::WriteJournal(drop::testing::DemoJournal(), argv[1], o);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("wrote the demo's journal to %s\n", argv[1]);
  return 0;
}
