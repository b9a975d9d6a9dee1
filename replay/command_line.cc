#include "replay/command_line.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "replay/describe.h"
#include "replay/point.h"

namespace drop::replay {

std::string Spelled(const CLI::Option* opt, int argc, char** argv) {
  std::string spelled = opt->get_name();
  for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i) {
    std::string_view arg = argv[i];
    for (const std::string& name : opt->get_lnames()) {
      std::string flag = "--" + name;
      if (arg == flag || arg.starts_with(flag + "=")) spelled = flag;
    }
    for (const std::string& name : opt->get_snames()) {
      if (arg == "-" + name) spelled = "-" + name;
    }
  }
  return spelled;
}

std::vector<const CLI::App*> Parsed(const CLI::App& app) {
  std::vector<const CLI::App*> parsed = {&app};
  for (const CLI::App* c : app.get_subcommands())
    parsed.push_back(c);
  return parsed;
}

namespace {

// The flag a word names ("--from", "-o", "--to=5"): the command's, else drop-replay's own (a
// command's flags fall through to it); nullptr when it names none.
const CLI::Option* FlagNamed(const std::vector<const CLI::App*>& parsed, std::string_view word) {
  if (word.size() < 2 || word[0] != '-') return nullptr;
  const std::string name(word.substr(0, word.find('=')));
  for (auto c = parsed.rbegin(); c != parsed.rend(); ++c) {
    if (const CLI::Option* opt = (*c)->get_option_no_throw(name)) return opt;
  }
  return nullptr;
}

// The command (or drop-replay itself) that `opt` belongs to.
const CLI::App* OwnerOf(const std::vector<const CLI::App*>& parsed, const CLI::Option* opt) {
  for (const CLI::App* c : parsed) {
    const std::vector<const CLI::Option*> options = c->get_options();
    if (std::find(options.begin(), options.end(), opt) != options.end()) return c;
  }
  return parsed.front();
}

// What a flag or an argument of `command` takes, as its help says: for the errors that say it is
// missing.
std::string Takes(const CLI::Option* opt, const CLI::App* command) {
  const std::string name = opt->get_name();
  if (name == "--since" || name == "--until" || name == "--from" || name == "--to" ||
      name == "--at") {
    return "a point: " + std::string(kPointForms);
  }
  if (name == "--kind") return "an entry kind: " + Listed(KindFilters(), ",");
  if (name == "object" && command->get_name() == "explain") {
    return "a CachedImage: cachedimage/NAME (or NAME)";
  }
  if (name == "--output" && command->get_name() == "timeline") {
    return "the HTML file to write (-o rollout.html), or - for standard output";
  }
  static const std::pair<const char*, const char*> kTakes[] = {
      {"--journal", "the journal directory: the operator's --journal-dir, or a copy of it"},
      {"--output", "an output format: yaml or json (or leave the flag out for a table)"},
      {"--object", "an object as KIND/NAME: cachedimage/web, pullpolicy/NAME, node/NAME, pod/NAME"},
      {"object", "an object: cachedimage/NAME, pullpolicy/NAME or node/NAME"},
      {"--node", "a node's name"},
      {"--reconcile-id", "the reconcileID of a line in drop's logs, a whole number of at least 1"},
      {"--limit", "a number of entries, a whole number (0: no limit)"},
      {"--jobs", "a number of threads, a whole number of at least 1"},
      {"--set",
       "FIELD=VALUE of the PullPolicy spec (maxConcurrentNodes=5); drop-replay simulate --help "
       "lists the fields"},
      {"--policy", "a PullPolicy's name ('default' for the built-in one)"},
      {"--full-speed-pulls", "a number of pulls, a whole number (0: no limit)"},
      {"--record", "a new directory for the simulated journal"},
  };
  for (const auto& [flag, takes] : kTakes) {
    if (name == flag) return takes;
  }
  // A flag no line above knows yet: its kind, and where its help is.
  const std::string type = opt->get_type_name();
  return std::string(type.starts_with("INT") || type.starts_with("UINT") ? "a whole number"
                                                                         : "a value") +
         " (drop-replay --help-all says what each flag takes)";
}

// "--since", "--from=5": whether a word is a flag, for a flag given no value before it. Single-dash
// words are flags only when known: an offset is "-5m".
bool LooksLikeAFlag(const std::vector<const CLI::App*>& parsed, std::string_view word) {
  return FlagNamed(parsed, word) != nullptr || (word.size() > 2 && word.starts_with("--") &&
                                                std::isalpha(static_cast<unsigned char>(word[2])));
}

// A flag of one value given more than once ("--at +1s --at +2s"), or Ok.
Status GivenTwice(const CLI::App& app, int argc, char** argv) {
  const std::vector<const CLI::App*> parsed = Parsed(app);
  for (const CLI::App* c : parsed) {
    for (const CLI::Option* opt : c->get_options()) {
      if (opt->get_items_expected_max() != 1 || opt->count() < 2) {
        continue;
      }
      std::vector<std::string> spellings;
      for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i) {
        std::string_view arg = argv[i];
        std::string spelled(arg.substr(0, arg.find('=')));
        if (FlagNamed(parsed, arg) == opt &&
            std::find(spellings.begin(), spellings.end(), spelled) == spellings.end()) {
          spellings.push_back(spelled);
        }
      }
      if (spellings.empty()) spellings.push_back(opt->get_name());
      const std::string values = Listed(opt->results(), ",");
      return Status::InvalidArgument(
          spellings.front() + ": given " +
          (opt->count() == 2 ? std::string("twice") : std::to_string(opt->count()) + " times") +
          " (" + values + ")" +
          (spellings.size() > 1 ? ", as " + Listed(spellings) + ", one flag by two names" : "") +
          "; give it once");
    }
  }
  return Status::Ok();
}

// What a command needs and was not given: "diff needs --from and --to; give each a point: ...";
// Ok when it has all of it.
Status NeedsMissing(const CLI::App* command) {
  std::vector<const CLI::Option*> missing;
  for (const CLI::Option* opt : command->get_options()) {
    if (opt->get_required() && opt->count() == 0) missing.push_back(opt);
  }
  if (missing.empty()) return Status::Ok();
  // Each said with what it takes, or all at once when they take the same.
  bool same = true;
  for (const CLI::Option* opt : missing)
    same = same && Takes(opt, command) == Takes(missing.front(), command);
  if (!same) missing.resize(1);
  std::vector<std::string> names;
  for (const CLI::Option* opt : missing) {
    names.push_back(opt->nonpositional() ? opt->get_name()
                                         : "its " + opt->get_name() + " argument");
  }
  return Status::InvalidArgument(command->get_name() + " needs " + Listed(names) + "; give " +
                                 (missing.size() > 1 ? "each " : "") +
                                 Takes(missing.front(), command));
}

// The commands, for an error that asks for one.
std::string Commands(const CLI::App& app) {
  std::vector<std::string> commands;
  for (const CLI::App* c : app.get_subcommands([](const CLI::App*) { return true; }))
    commands.push_back(c->get_name());
  return "the commands are " + Listed(commands, ",") + " (drop-replay --help says what each does)";
}

}  // namespace

Status ValueMissing(const CLI::App& app, int argc, char** argv) {
  const std::vector<const CLI::App*> parsed = Parsed(app);
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    const CLI::Option* opt = FlagNamed(parsed, arg);
    // A switch takes no value; "--from=5" and "-ojson" carry theirs.
    if (opt == nullptr || opt->get_items_expected_max() == 0 ||
        arg.find('=') != std::string_view::npos || (!arg.starts_with("--") && arg.size() > 2)) {
      continue;
    }
    std::string after;
    if (i + 1 < argc) {
      std::string_view next = argv[i + 1];
      bool command = false;
      if (app.get_subcommands().empty()) {
        for (const CLI::App* c : app.get_subcommands([](const CLI::App*) { return true; }))
          command = command || c->get_name() == next;
      }
      const bool ends = next == "--";  // CLI11 would take it for the value
      if (!LooksLikeAFlag(parsed, next) && !command && !ends) {
        ++i;  // its value
        continue;
      }
      after = " (the next word, " + std::string(next) + ", " +
              (ends      ? "ends the flags"
               : command ? "is the command"
                         : "is a flag") +
              ")";
    }
    return Status::InvalidArgument(std::string(arg) + ": no value after it" + after + "; give " +
                                   Takes(opt, OwnerOf(parsed, opt)));
  }
  return Status::Ok();
}

Status ParseFailure(const CLI::App& app, const CLI::ParseError& e, const CLI::Option* journal,
                    int argc, char** argv) {
  // A flag that took the next word for its value is the first thing wrong, whatever CLI11 tripped
  // over after it.
  if (Status s = ValueMissing(app, argc, argv); !s.ok()) return s;
  const std::vector<const CLI::App*> parsed = Parsed(app);
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
    if (parsed.size() > 1) {
      if (Status s = NeedsMissing(parsed.back()); !s.ok()) return s;
    } else {
      // CLI11 takes a mistyped command for a missing one; say which word it did not know.
      std::vector<std::string> extra = app.remaining();
      if (extra.empty()) return Status::InvalidArgument("no command given; " + Commands(app));
      const std::string& word = extra.front();
      return Status::InvalidArgument(
          (word.starts_with("-") ? "no command given, and drop-replay itself takes no " + word
                                 : "'" + word + "' is not a command") +
          "; " + Commands(app));
    }
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    if (Status s = GivenTwice(app, argc, argv); !s.ok()) return s;
  }
  // CLI11 lists the words it did not expect last first ("1 --threads"): say them as typed, and
  // to which command (a command's extras are handed up to drop-replay's).
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    const CLI::App* command = parsed.back();
    std::vector<std::string> extra;
    for (const std::string& w : app.remaining(true)) {
      if (w != "--") extra.push_back(w);
    }
    std::string words;
    for (const std::string& w : extra)
      words += (words.empty() ? "" : " ") + w;
    // A command's flags go after it: given before it, drop-replay itself was handed them. The
    // extra words before the command, in order, past the journal flag's value (a journal may
    // be named like a command).
    std::string early;
    size_t next = 0;
    for (int i = 1; i < argc && command != &app && next < extra.size(); ++i) {
      std::string_view arg = argv[i];
      if (arg == "-j" || arg == "--journal") {
        ++i;
      } else if (arg == command->get_name()) {
        break;
      } else if (arg == extra[next]) {
        early += (early.empty() ? "" : " ") + extra[next++];
      }
    }
    const std::string name = command == &app ? "drop-replay" : "drop-replay " + command->get_name();
    // A journal's directory given as a word, without -j: "drop-replay /tmp/j info".
    std::error_code ec;
    const std::string& lone = extra.size() == 1 ? extra.front() : "";
    const bool journal_word = journal->count() == 0 && command != &app && !lone.empty() &&
                              !lone.starts_with("-") && std::filesystem::is_directory(lone, ec);
    const std::string with_j = "; to read the journal in " + lone + ", give it with -j (" +
                               "drop-replay -j " + lone + " " + command->get_name() + ")";
    if (!early.empty()) {
      return Status::InvalidArgument(
          "'" + early + "' comes before the command " + command->get_name() +
          (journal_word ? with_j : ": a command's flags go after it (" + name + " " + early + ")"));
    }
    if (!words.empty()) {
      return Status::InvalidArgument(
          name + " does not take '" + words + "'" +
          (journal_word ? with_j : "; " + name + " --help lists what it takes"));
    }
  }
  // "Could not convert: --jobs = 99999999999": a value CLI11 could not store in the flag.
  if (dynamic_cast<const CLI::ConversionError*>(&e) != nullptr) {
    const std::string what = e.what();
    const std::string prefix = "Could not convert: ";
    const size_t equals = what.find(" = ");
    const CLI::Option* opt = what.starts_with(prefix) && equals != std::string::npos
                                 ? FlagNamed(parsed, std::string_view(what).substr(
                                                         prefix.size(), equals - prefix.size()))
                                 : nullptr;
    if (opt != nullptr && !opt->results().empty()) {
      const std::string flag = Spelled(opt, argc, argv);
      const std::string& value = opt->results().back();
      if (opt->get_items_expected_max() == 0) {  // a switch: --salvage=maybe
        return Status::InvalidArgument(flag + "=" + value + ": " + flag +
                                       " takes no value; give it alone, or leave it out");
      }
      return Status::InvalidArgument(
          flag + " " + value + ": more than the flag holds" +
          (opt->get_type_name().starts_with("INT") ? " (at most 2147483647)" : "") + "; give " +
          Takes(opt, OwnerOf(parsed, opt)));
    }
    return Status::InvalidArgument(what +
                                   ": not a value of the flag's kind; drop-replay --help-all "
                                   "says what each flag takes");
  }
  // Said as drop-replay says its other errors ("--jobs: must be a whole number of at least 1").
  return Status::InvalidArgument(std::string(e.what()) +
                                 "; drop-replay --help-all lists every command's flags");
}

}  // namespace drop::replay
