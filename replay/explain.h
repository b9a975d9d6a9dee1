// drop-replay explain: why each node of a CachedImage stands where it does at a moment, in plain
// words with the inputs that decided it: "gpu-7: not pulled at 10:02:13 — WaitConcurrency: 5 of
// 5 active under PullPolicy gentle (pods ...); started 10:02:41 when drop-web-c3 Succeeded".
#pragma once

#include <ostream>
#include <string>

#include "core/status.h"
#include "replay/document.h"
#include "replay/reader.h"

namespace drop::replay {

struct ExplainOptions {
  std::string object;  // cachedimage/NAME
  std::string node;    // empty: every node
  std::string at;      // empty: the end of the journal
  Format format = Format::kTable;
};

Status Explain(const Reader& reader, const ExplainOptions& options, std::ostream& out);

}  // namespace drop::replay
