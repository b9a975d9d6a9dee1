// drop-replay: the offline face of drop (DESIGN.md section 8). It reads a journal directory (a
// copy, a checkpoint, or a live journal read as a secondary) and never writes to it.
// Exit codes: 0 fine, 1 a finding (verify found a divergence), 2 bad usage or unreadable journal.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/build.h"
#include "core/duration.h"
#include "replay/command_line.h"
#include "replay/commands.h"
#include "replay/explain.h"
#include "replay/reader.h"
#include "replay/simulate.h"
#include "replay/timeline.h"
#include "replay/verify.h"

using namespace drop;          // NOLINT(build/namespaces)
using namespace drop::replay;  // NOLINT(build/namespaces)

namespace {

// Says the error; exit code 2. `from_variable` is the journal's path when $DROP_JOURNAL gave it
// rather than -j: where the error names the journal, it says where the path came from, which the
// user did not type.
int Fail(const Status& s, const std::string& from_variable = "") {
  std::string message = s.message();
  const std::string named = "journal " + from_variable;
  for (size_t at = from_variable.empty() ? std::string::npos : message.find(named);
       at != std::string::npos; at = message.find(named, at + 1)) {
    size_t end = at + named.size();
    // "journal /tmp/j:", "journal /tmp/j has", "journal /tmp/j,": not a longer path.
    if (end == message.size() || std::strchr(":;, ", message[end]) != nullptr) {
      message.insert(end, " (from $DROP_JOURNAL)");
      break;
    }
  }
  std::cerr << "drop-replay: " << message << '\n';
  return kExitBadInput;
}

// A progress line on the terminal, rewritten in place and cleared at the end:
// "verify: 1200000 of 10000000 entries (12%), 11000 entries/s, about 13m20s left".
std::function<void(uint64_t, uint64_t)> ProgressLine(std::string what) {
  auto start = std::chrono::steady_clock::now();
  return [what, start](uint64_t done, uint64_t total) {
    if (done >= total) {
      std::fprintf(stderr, "\r\033[K");
      return;
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    // Whole seconds, rounded up: "about 0s left" would say nothing.
    int64_t left_s =
        rate > 0 ? static_cast<int64_t>(static_cast<double>(total - done) / rate) + 1 : 0;
    std::string left = left_s > 0 ? ", about " + FormatDuration(left_s * 1000) + " left" : "";
    std::fprintf(stderr, "\r\033[K%s: %llu of %llu entries (%d%%), %.0f entries/s%s", what.c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 static_cast<int>(100 * done / std::max<uint64_t>(total, 1)), rate, left.c_str());
  };
}

// A count: a whole number of at least `min` (CLI11 would take -1 for a huge unsigned number).
CLI::Validator AtLeast(uint64_t min) {
  return CLI::Validator(
      [min](std::string& value) -> std::string {
        uint64_t n = 0;
        const char* end = value.data() + value.size();
        auto [at, error] = std::from_chars(value.data(), end, n);
        if (error == std::errc() && at == end && n >= min) return "";
        if (value.empty())
          return "an empty value; give a whole number of at least " + std::to_string(min);
        if (error == std::errc::result_out_of_range && at == end) {
          return value + " is more than the flag holds; give a smaller whole number";
        }
        return "must be a whole number of at least " + std::to_string(min) + ", not " + value;
      },
      "N>=" + std::to_string(min));
}

// drop-replay never writes into the journal: refuses a path of `flag` that lies inside it.
Status OutsideJournal(const std::string& path, const std::string& journal, const char* flag) {
  namespace fs = std::filesystem;
  std::error_code ec, link_ec;
  fs::path dir = fs::weakly_canonical(journal, ec);
  fs::path target = fs::absolute(path, ec);
  // A symlink is written through, one whose target does not exist yet too: judge where it points
  // (weakly_canonical leaves a dangling one as it is).
  for (int hops = 0; hops < 40 && fs::is_symlink(fs::symlink_status(target, link_ec)); ++hops) {
    fs::path to = fs::read_symlink(target, link_ec);
    if (link_ec) break;
    target = to.is_absolute() ? to : target.parent_path() / to;
  }
  target = fs::weakly_canonical(target, ec);
  if (ec || dir.empty()) return Status::Ok();  // cannot tell: the open or the write says more
  // The journal is known by its device and inode, not by its name: a bind mount shows it under
  // another. The path's ancestors that do not exist yet are nothing.
  bool inside = false;
  for (fs::path p = target; !inside; p = p.parent_path()) {
    inside = fs::equivalent(p, dir, ec);
    if (p == p.parent_path()) break;
  }
  if (!inside) return Status::Ok();
  return Status::InvalidArgument(std::string(flag) + " " + path + " lies inside the journal " +
                                 journal +
                                 ", which drop-replay never writes to; give a path "
                                 "outside it");
}

// Writes the timeline to `path`. A file is written under a new name beside it and renamed into
// place, so that a failure leaves an earlier timeline as it was; the name is mkstemp's, so no file
// left beside it (a link into a journal, say) is ever opened. A device, a pipe or a symlink
// (/dev/stdout) is written straight, through the symlink rather than over it.
Result<TimelineFigures> WriteTimelineFile(const Reader& r, const TimelineOptions& o,
                                          const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(fs::status(path, ec))) {
    return Status::InvalidArgument("-o " + path + " is a directory; give the HTML file's path");
  }
  fs::file_status st = fs::symlink_status(path, ec);
  const bool aside = !fs::exists(st) || fs::is_regular_file(st);
  std::string written = path;
  if (aside) {
    const fs::path p(path);
    written = (p.parent_path() / ("." + p.filename().string() + ".XXXXXX")).string();
    int fd = ::mkstemp(written.data());
    if (fd < 0) {
      return Status::IOError("cannot write " + path +
                             ": cannot make a file beside it: " + std::strerror(errno));
    }
    // As a file made by open(2) would be, not mkstemp's owner-only.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    ::close(fd);
  }
  std::ofstream file(written, std::ios::binary | std::ios::trunc);
  if (!file) return Status::IOError("cannot write " + written + ": " + std::strerror(errno));
  Result<TimelineFigures> figures = WriteTimeline(r, o, file);
  file.close();  // flushes: a full disk shows here
  int error = errno;
  if (figures.ok() && !file) {
    figures = Status::IOError("cannot write " + written + ": " + std::strerror(error));
  } else if (figures.ok() && aside && std::rename(written.c_str(), path.c_str()) != 0) {
    figures = Status::IOError("cannot write " + path + ": " + std::strerror(errno));
  }
  if (!figures.ok() && aside) std::remove(written.c_str());
  return figures;
}

// Ctrl-C, SIGTERM or SIGHUP while drop-replay follows a live journal: the temporary directory of
// its secondary instance goes too, rather than staying behind in $TMPDIR. Every thread blocks the
// signals (threads made later inherit the mask) and one waits for them.
class Interrupts {
 public:
  Interrupts() {
    sigemptyset(&set_);
    for (int sig : {SIGINT, SIGTERM, SIGHUP})
      sigaddset(&set_, sig);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    std::thread([this] {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0) return;
      std::string dir;
      {
        std::lock_guard lock(mu_);
        dir = dir_;
      }
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
      std::_Exit(128 + sig);  // as a shell reports a process the signal ended
    }).detach();
  }
  void RemoveOnInterrupt(std::string dir) {
    std::lock_guard lock(mu_);
    dir_ = std::move(dir);
  }

 private:
  sigset_t set_;
  std::mutex mu_;
  std::string dir_;
};

// The temporary directory of a live journal's secondary instance while the journal opens, and
// the info log RocksDB keeps in it: paths laid out beforehand, for a signal handler to remove.
char opening_dir[PATH_MAX];
char opening_log[PATH_MAX];

// What the handler below says, laid out before it can run: a handler may not allocate.
const std::string kAbortWhileOpening =
    "drop-replay: the journal's files failed a check of the RocksDB library as they were read (the "
    "line above): they are damaged or mixed up, as a write-ahead log that repeats itself is. " +
    std::string(journal::kCopyAgain) + "\n";

void MadeTempDir(const std::string& dir) {
  const std::string log = dir + "/LOG";
  if (log.size() >= sizeof opening_log) return;  // mkdtemp's own path: never so long
  std::memcpy(opening_dir, dir.c_str(), dir.size() + 1);
  std::memcpy(opening_log, log.c_str(), log.size() + 1);
}

// RocksDB, as Debian builds it, keeps its assertions: a journal whose write-ahead log repeats
// itself (a log appended to itself, a second copy of one log) trips one as the journal opens, and
// the process aborts. While the journal opens, an abort is said as the damage it is, exit 2, and
// the temporary directory of a live journal goes.
extern "C" void AbortWhileOpening(int) {
  if (::write(STDERR_FILENO, kAbortWhileOpening.data(), kAbortWhileOpening.size()) < 0) {
  }
  if (opening_dir[0] != '\0') {
    ::unlink(opening_log);
    ::rmdir(opening_dir);
  }
  ::_exit(kExitBadInput);
}

// Standard output that remembers why its first failed write failed. The stream keeps only that a
// write failed; by the end of a command that writes much (export, log), errno says nothing of it.
class OutputBuffer : public std::streambuf {
 public:
  explicit OutputBuffer(std::streambuf* to) : to_(to) {}
  // The errno of the first write that failed, or 0.
  int error() const { return error_; }

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) {
      return sync() == 0 ? traits_type::not_eof(c) : traits_type::eof();
    }
    errno = 0;
    int_type put = to_->sputc(traits_type::to_char_type(c));
    if (traits_type::eq_int_type(put, traits_type::eof())) Failed();
    return put;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    errno = 0;
    std::streamsize put = to_->sputn(s, n);
    if (put < n) Failed();
    return put;
  }
  int sync() override {
    errno = 0;
    int result = to_->pubsync();
    if (result != 0) Failed();
    return result;
  }

 private:
  void Failed() {
    if (error_ == 0) error_ = errno;
  }

  std::streambuf* to_;
  int error_ = 0;
};

}  // namespace

int Run(int argc, char** argv);

int main(int argc, char** argv) {
  // verify and state read snapshots of tens of megabytes and fold states as large on arenas that
  // they then drop: glibc would give that memory back to the kernel and fault it in again a page
  // at a time (110,000 faults in a verify of the bench's rollout). A run of this tool keeps it.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {  // a bug or an unexpected system error: say it, exit 2
    std::cerr << "drop-replay: " << e.what() << '\n';
    return kExitBadInput;
  }
}

int Run(int argc, char** argv) {
  static Interrupts* interrupts = new Interrupts();  // first, before any thread; lives to the exit
  CLI::App app{
      "drop-replay: time travel, explain, verify, timeline and simulate on a drop journal.\n"
      "Reads the journal directory and never writes to it. Points (--at, --from, ...) are a\n"
      "sequence number, an RFC 3339 time, a time of day (10:02:13) or an offset (+90s, -5m).\n"
      "A time is the state after every entry recorded at or before it; a range from a time\n"
      "before the journal (--from, --since) starts at its first entry."};
  app.set_help_all_flag("--help-all", "Every subcommand's help");
  app.set_version_flag("--version", std::string(kBuild));
  app.require_subcommand(1);
  app.fallthrough();

  std::string dir;
  const char* env = std::getenv("DROP_JOURNAL");
  if (env != nullptr) dir = env;
  CLI::Option* journal =
      app.add_option("-j,--journal", dir, "The journal directory (default: $DROP_JOURNAL)");
  bool salvage = false;
  app.add_flag("--salvage", salvage,
               "Read a journal whose write-ahead log is damaged up to the damage, instead of "
               "refusing it");

  std::string output;
  auto add_output = [&](CLI::App* cmd) {
    cmd->add_option("-o,--output", output, "Output format: yaml or json (default: a table)");
  };

  CLI::App* info = app.add_subcommand("info", "Range, entries by kind, snapshots, size, schema");
  add_output(info);

  LogOptions log;
  CLI::App* log_cmd = app.add_subcommand("log",
                                         "Entries, filtered by time, kind, object, node, "
                                         "reconcileID");
  CLI::Option* log_since = log_cmd->add_option("--since,--from", log.since,
                                               "From this point (exclusive), as diff --from");
  CLI::Option* log_until =
      log_cmd->add_option("--until,--to", log.until, "Up to this point (inclusive), as diff --to");
  log_cmd->add_option("-k,--kind", log.kinds,
                      "Entry kinds: input, decision, action, watch, pacing, outcome, reconcile, "
                      "create-pod, delete-pod, patch-status, event, requeue, timer, result, ...");
  log_cmd->add_option("--object", log.object, "Entries about KIND/NAME (cachedimage/web, pod/...)");
  log_cmd->add_option("--node", log.node, "Entries about a node");
  uint64_t reconcile_id = 0;
  CLI::Option* rid = log_cmd
                         ->add_option("--reconcile-id", reconcile_id,
                                      "One reconcile: the reconcileID in drop's logs (its trigger "
                                      "input, then its decisions)")
                         ->check(AtLeast(1));
  log_cmd->add_option("--limit", log.limit, "At most this many entries (0: no limit)")
      ->check(AtLeast(0));
  add_output(log_cmd);

  StateOptions state;
  CLI::App* state_cmd =
      app.add_subcommand("state",
                         "The folded state at a point, with the statuses drop would "
                         "write then");
  state_cmd->add_option("--at", state.at, "The point (default: the end of the journal)");
  state_cmd->add_option("object", state.object, "cachedimage/NAME, pullpolicy/NAME or node/NAME");
  add_output(state_cmd);

  ExplainOptions explain;
  CLI::App* explain_cmd =
      app.add_subcommand("explain", "Why each node of a CachedImage stands where it does");
  explain_cmd->add_option("object", explain.object, "cachedimage/NAME (or NAME)")->required();
  explain_cmd->add_option("--node", explain.node, "Only this node");
  explain_cmd->add_option("--at", explain.at, "The point (default: the end of the journal)");
  add_output(explain_cmd);

  VerifyOptions verify;
  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "Recompute every decision from the inputs before it; exit 1 on a divergence");
  verify_cmd->add_option("--from", verify.from, "From this point (default: the start)");
  verify_cmd->add_option("--to", verify.to, "Up to this point (default: the end)");
  verify_cmd->add_option("--jobs", verify.jobs, "Threads (default: one per core)")
      ->check(AtLeast(1));
  verify_cmd->add_flag("--walk", verify.walk,
                       "Recompute by walking every node and pod instead of through the core's "
                       "index: slower, and checks the index too");
  add_output(verify_cmd);

  DiffOptions diff;
  CLI::App* diff_cmd = app.add_subcommand("diff", "What changed in the state between two points");
  diff_cmd->add_option("--from", diff.from, "The earlier point")->required();
  diff_cmd->add_option("--to", diff.to, "The later point")->required();
  add_output(diff_cmd);

  TimelineOptions timeline;
  std::string timeline_file;
  CLI::App* timeline_cmd =
      app.add_subcommand("timeline",
                         "A self-contained HTML timeline: a lane per node, pulls, "
                         "waits, active pulls against the limit");
  timeline_cmd->add_option("-o,--output", timeline_file, "The HTML file (default: stdout)");
  CLI::Option* timeline_since =
      timeline_cmd->add_option("--since,--from", timeline.since, "From this point");
  CLI::Option* timeline_until =
      timeline_cmd->add_option("--until,--to", timeline.until, "Up to this point");

  SimulateOptions simulate;
  CLI::App* simulate_cmd = app.add_subcommand(
      "simulate", "Re-run the recorded rollout through the core with another policy");
  simulate_cmd->add_option("--set", simulate.sets,
                           "FIELD=VALUE of the PullPolicy spec: maxConcurrentNodes, "
                           "minDelayBetweenPulls, pullTimeout, podTTLAfterFinished, "
                           "imagePullPolicy, backoff.initialDelay, backoff.maxDelay, "
                           "backoff.factor, backoff.maxConsecutiveFailures");
  simulate_cmd->add_option("--policy", simulate.policies,
                           "The PullPolicies --set changes (default: all; 'default' for the "
                           "built-in one)");
  simulate_cmd
      ->add_option("--full-speed-pulls", simulate.full_speed_pulls,
                   "Bandwidth model: pulls that move at full speed at once, beyond which "
                   "they share (default: inferred from the recording; 0: no limit)")
      ->check(AtLeast(0));
  simulate_cmd->add_option("--record", simulate.record_dir,
                           "Also write the simulated journal to this new directory");
  add_output(simulate_cmd);

  ExportOptions exp;
  CLI::App* export_cmd = app.add_subcommand("export", "Entries as JSON lines");
  CLI::Option* export_since =
      export_cmd->add_option("--since,--from", exp.since, "From this point (exclusive)");
  CLI::Option* export_until =
      export_cmd->add_option("--until,--to", exp.until, "Up to this point (inclusive)");

  // "-j=DIR", "-o=json": kubectl's flags take a short flag's value after '=' too, where CLI11 would
  // keep the '=' in the value ("journal =DIR: no such directory").
  std::vector<std::string> words(argv, argv + argc);
  for (size_t i = 1; i < words.size() && words[i] != "--"; ++i) {
    if (words[i].size() > 2 && words[i][0] == '-' && words[i][1] != '-' && words[i][2] == '=') {
      std::string value = words[i].substr(3);
      words[i].resize(2);
      words.insert(words.begin() + static_cast<long>(++i), std::move(value));
    }
  }
  std::vector<char*> split;
  for (std::string& w : words)
    split.push_back(w.data());
  argc = static_cast<int>(words.size());
  argv = split.data();

  // CLI11 reads "--journal=" (a variable that expanded to nothing) as "--journal" alone and takes
  // the next word for its value: "--journal= info" would open a journal named info.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.starts_with("--") && arg.find('=') == arg.size() - 1) {
      std::string flag(arg.substr(0, arg.size() - 1));
      return Fail(Status::InvalidArgument(
          flag + "= has nothing after the '=' (a shell variable that is not set expands to " +
          "nothing); give " + flag + " a value, or leave it out"));
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --help-all, --version
    return Fail(ParseFailure(app, e, journal, argc, argv));
  }
  if (Status s = ValueMissing(app, argc, argv); !s.ok()) return Fail(s);
  // An empty value reads as no value at all: `log --node "$NODE"` with NODE unset listed every
  // node's entries.
  for (const CLI::App* c : Parsed(app)) {
    for (const CLI::Option* opt : c->get_options()) {
      const CLI::results_t& values = opt->results();
      if (opt->get_type_size() == 0 ||
          std::find(values.begin(), values.end(), "") == values.end()) {
        continue;
      }
      return Fail(Status::InvalidArgument(
          (opt->nonpositional() ? Spelled(opt, argc, argv)
                                : "the " + opt->get_name() + " argument") +
          " is empty (a shell variable that is not set expands to nothing); give it a value" +
          (opt->get_required() || !opt->nonpositional() ? "" : ", or leave it out")));
    }
  }
  log.since_flag = Spelled(log_since, argc, argv);
  log.until_flag = Spelled(log_until, argc, argv);
  timeline.since_flag = Spelled(timeline_since, argc, argv);
  timeline.until_flag = Spelled(timeline_until, argc, argv);
  exp.since_flag = Spelled(export_since, argc, argv);
  exp.until_flag = Spelled(export_until, argc, argv);
  // Set and empty, DROP_JOURNAL is no journal either, and the user may not know it is set.
  const bool from_variable = journal->count() == 0 && env != nullptr;
  if (dir.empty()) {
    return Fail(Status::InvalidArgument(
        std::string("no journal given") +
        (from_variable ? " ($DROP_JOURNAL is set but empty)" : "") +
        ": pass --journal DIR (-j) or set DROP_JOURNAL to the operator's --journal-dir or a copy "
        "of it"));
  }
  // From here an error may name the journal.
  auto fail = [&](const Status& s) { return Fail(s, from_variable ? dir : ""); };
  bool is_timeline = timeline_cmd->parsed();
  Result<Format> format = ParseFormat(is_timeline ? "" : output);
  if (!format.ok()) return fail(format.status());

  if (is_timeline && (timeline_file == "json" || timeline_file == "yaml")) {
    return fail(Status::InvalidArgument(
        "timeline -o " + timeline_file +
        ": the timeline is one HTML file, and -o names it (-o rollout.html); it has no " +
        timeline_file + " form (export gives the entries as JSON lines)"));
  }
  if (is_timeline && !timeline_file.empty() && timeline_file != "-") {
    if (Status s = OutsideJournal(timeline_file, dir, "-o"); !s.ok()) return fail(s);
  }
  if (simulate_cmd->parsed() && !simulate.record_dir.empty()) {
    if (Status s = OutsideJournal(simulate.record_dir, dir, "--record"); !s.ok()) return fail(s);
  }

  struct sigaction on_abort = {};
  struct sigaction before = {};
  on_abort.sa_handler = AbortWhileOpening;
  sigaction(SIGABRT, &on_abort, &before);
  Result<std::unique_ptr<Reader>> reader = Reader::Open(dir, salvage, [&](const std::string& t) {
    interrupts->RemoveOnInterrupt(t);
    MadeTempDir(t);
  });
  sigaction(SIGABRT, &before, nullptr);
  opening_dir[0] = '\0';
  if (!reader.ok()) return fail(reader.status());
  interrupts->RemoveOnInterrupt((*reader)->temp_dir());
  if (!(*reader)->note().empty()) std::cerr << (*reader)->note() << '\n';
  const Reader& r = **reader;
  OutputBuffer out_buffer(std::cout.rdbuf());
  std::ostream out(&out_buffer);
  Status s;
  int code = kExitOk;
  if (info->parsed()) {
    s = Info(r, *format, out);
  } else if (log_cmd->parsed()) {
    if (rid->count() > 0) log.reconcile_id = reconcile_id;
    log.format = *format;
    s = Log(r, log, out, std::cerr);
  } else if (state_cmd->parsed()) {
    if (!output.empty()) state.format = *format;
    s = ShowState(r, state, out);
  } else if (explain_cmd->parsed()) {
    explain.format = *format;
    s = Explain(r, explain, out);
  } else if (verify_cmd->parsed()) {
    if (isatty(STDERR_FILENO)) verify.progress = ProgressLine("verify");
    Result<VerifyReport> report = Verify(r, verify);
    if (!report.ok()) return fail(report.status());
    PrintVerify(r, *report, *format, out);
    code = report->clean() ? kExitOk : kExitFinding;
  } else if (diff_cmd->parsed()) {
    diff.format = *format;
    s = Diff(r, diff, out);
  } else if (is_timeline) {
    bool to_stdout = timeline_file.empty() || timeline_file == "-";
    Result<TimelineFigures> figures =
        to_stdout ? WriteTimeline(r, timeline, out) : WriteTimelineFile(r, timeline, timeline_file);
    if (!figures.ok()) return fail(figures.status());
    if (!to_stdout) {
      std::cerr << "wrote " << timeline_file << ": " << figures->lanes
                << (figures->lanes == 1 ? " lane, " : " lanes, ") << figures->spans
                << (figures->spans == 1 ? " pull, " : " pulls, ") << figures->waiting
                << (figures->waiting == 1 ? " wait" : " waits") << " not started by the end, "
                << figures->bytes / 1024 << " KiB\n";
    }
  } else if (simulate_cmd->parsed()) {
    simulate.format = *format;
    Result<SimulateReport> report = RunSimulate(r, simulate);
    if (!report.ok()) return fail(report.status());
    PrintSimulate(*report, *format, out);
  } else if (export_cmd->parsed()) {
    s = Export(r, exp, out);
  }
  if (!s.ok()) return fail(s);
  // Output that did not reach its file is an error, not a silent success: a full disk, a closed
  // standard output.
  out.flush();
  if (!out) {
    return fail(Status::IOError(
        std::string("cannot write the output") +
        (out_buffer.error() != 0 ? std::string(": ") + std::strerror(out_buffer.error()) : "")));
  }
  return code;
}
