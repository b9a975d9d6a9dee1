// drop-replay's command line, said in its own words: CLI11's refusals mapped to what was wrong,
// named as typed, and what to give instead.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace drop::replay {

// How the command line spelled `opt`, whose names may be two ("--since,--from"; CLI11 takes only
// one of them), so that an error names the flag as it was typed.
std::string Spelled(const CLI::Option* opt, int argc, char** argv);

// drop-replay itself, then the command the command line chose (once CLI11 has come to it).
std::vector<const CLI::App*> Parsed(const CLI::App& app);

// A flag given without its value: CLI11 takes the next word for it whatever it is ("log --from
// --kind outcome" reads "--kind" as a time; "-j $DIR info" with DIR unset, "info" as the journal),
// or, at the end, says "1 required TEXT missing" under another of its names. Says which flag, as
// typed, and what it takes; Ok when each flag has its value.
Status ValueMissing(const CLI::App& app, int argc, char** argv);

// CLI11's refusal of the command line, said as drop-replay says its other errors: what was wrong,
// named as typed, and what to give instead. `journal`: the -j flag.
Status ParseFailure(const CLI::App& app, const CLI::ParseError& e, const CLI::Option* journal,
                    int argc, char** argv);

}  // namespace drop::replay
