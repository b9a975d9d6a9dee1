// drop-replay info: what a journal holds, at a glance.
#include <algorithm>
#include <chrono>
#include <map>

#include "core/build.h"
#include "core/duration.h"
#include "core/schema.h"
#include "replay/commands.h"
#include "replay/describe.h"
#include "replay/table.h"

namespace drop::replay {

Status Info(const Reader& r, Format format, std::ostream& out) {
  const journal::Store& store = r.store();
  Result<uint32_t> version = store.SchemaVersion();
  if (!version.ok()) return version.status();
  std::map<std::string, uint64_t> kinds;
  uint64_t starts = 0, bytes = 0;
  std::vector<std::pair<std::string, uint64_t>> builds;  // that started, in order, with starts
  if (!r.empty()) {
    journal::Store::Iterator it = store.Entries(r.first(), r.last());
    for (; it.Valid(); it.Next()) {
      ++kinds[KindName(it.entry())];
      bytes += it.bytes().size();
      if (!it.entry().has_started()) continue;
      ++starts;
      const std::string& build = it.entry().started().config().version();
      if (builds.empty() || builds.back().first != build) builds.emplace_back(build, 0);
      ++builds.back().second;
    }
    if (!it.status().ok()) return it.status();
  }
  // The build that was running where the kept entries begin, when retention dropped its start:
  // the state there, kept in a snapshot, carries its config.
  std::string before, unknown;
  // On a damaged journal info still says what it can, and why the rest is unknown; then it ends
  // with the damage, exit 2, as every other command there does.
  Status damage = Status::Ok();
  if (r.origin().seq > 0 && r.has_state()) {
    Result<v1::State> origin = r.StateAt(r.origin());
    if (origin.ok() && origin->has_config()) before = origin->config().version();
    if (!origin.ok() && origin.status().code() == Status::Code::kCorruption) {
      damage = origin.status();
    }
    if (!origin.ok()) {
      unknown = "the build that ran before entry " + std::to_string(r.origin().seq + 1) +
                " is unknown: " + origin.status().message();
    }
  }
  const uint64_t entries = r.empty() ? 0 : r.last() - r.first() + 1;
  const uint64_t disk = store.BytesOnDisk();
  Result<std::vector<journal::Store::SnapshotInfo>> listed = store.Snapshots();
  if (!listed.ok()) return listed.status();
  const std::vector<journal::Store::SnapshotInfo>& snaps = *listed;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();

  if (format != Format::kTable) {
    boost::json::object doc;
    doc["journal"] = r.dir();
    doc["mode"] = r.live() ? "secondary" : "read-only";
    doc["schemaVersion"] = *version;
    doc["firstSeq"] = r.first();
    doc["lastSeq"] = r.last();
    doc["entries"] = entries;
    if (!r.empty()) {
      doc["firstTime"] = FormatTimeMillis(r.first_time());
      doc["lastTime"] = FormatTimeMillis(r.last_time());
    }
    doc["bytesOnDisk"] = disk;
    doc["operatorStarts"] = starts;
    boost::json::array recorded_by;
    if (!before.empty()) {
      recorded_by.push_back(
          boost::json::object{{"build", before}, {"startedBefore", r.origin().seq + 1}});
    }
    for (const auto& [build, n] : builds)
      recorded_by.push_back(boost::json::object{{"build", build}, {"starts", n}});
    doc["recordedBy"] = std::move(recorded_by);
    if (!unknown.empty()) doc["recordedByUnknown"] = unknown;
    doc["replayBuild"] = kBuild;
    boost::json::object by_kind;
    for (const auto& [k, n] : kinds)
      by_kind[k] = n;
    doc["entriesByKind"] = std::move(by_kind);
    boost::json::array s;
    for (const auto& snap : snaps) {
      s.push_back(boost::json::object{{"seq", snap.seq}, {"time", FormatTimeMillis(snap.time_ms)}});
    }
    doc["snapshots"] = std::move(s);
    Print(doc, format, out);
    return damage;
  }

  auto line = [&](const char* k, const std::string& v) {
    out << k << std::string(18 - std::string(k).size(), ' ') << v << '\n';
  };
  line("journal:", r.dir() + (r.live() ? " (live: followed as a secondary, read-only)"
                                       : " (opened read-only)"));
  line("schema version:", std::to_string(*version) + " (this drop-replay reads up to " +
                              std::to_string(kSchemaVersion) + ")");
  if (r.empty()) {
    line("entries:", r.has_state() ? "none: retention dropped them all; the state after entry " +
                                         std::to_string(r.last()) + " (" +
                                         FormatTimeMillis(r.last_time()) + ") is kept in a snapshot"
                                   : "none");
  } else {
    line("entries:", std::to_string(r.first()) + ".." + std::to_string(r.last()) + " (" +
                         std::to_string(entries) + ")" +
                         (r.first() > 1 ? "; older entries dropped by retention" : ""));
    line("time range:", FormatTimeMillis(r.first_time()) + " to " +
                            FormatTimeMillis(r.last_time()) + " (" +
                            FormatDuration(r.last_time() - r.first_time()) + ")");
    line("last entry:", now >= r.last_time() ? Age(now - r.last_time()) + " ago"
                                             : "in " + Age(r.last_time() - now) +
                                                   " (recorded by a clock ahead of this one)");
  }
  char size[64];
  std::snprintf(size, sizeof size, "%.1f MiB", static_cast<double>(disk) / (1 << 20));
  // The directory holds snapshots and RocksDB's own files beside the entries: its size an entry
  // is what a journal costs, not how well the entries compress.
  std::string per = entries > 0 ? " (" + std::to_string(disk / entries) +
                                      " bytes an entry, snapshots and all; an entry is " +
                                      std::to_string(bytes / entries) + " bytes uncompressed)"
                                : "";
  line("size on disk:", size + per);
  line("operator starts:", std::to_string(starts));
  if (!builds.empty() || !before.empty() || !unknown.empty()) {
    std::string text;
    if (!before.empty()) {
      text = "drop " + before + " (started before entry " + std::to_string(r.origin().seq + 1) +
             ", where the kept entries begin)";
    }
    for (const auto& [build, n] : builds) {
      text += (text.empty() ? "drop " : ", then ") + (build.empty() ? "(no version)" : build) +
              " (" + std::to_string(n) + (n == 1 ? " start)" : " starts)");
    }
    if (!unknown.empty()) text = text.empty() ? unknown : unknown + "; after it, " + text;
    bool other =
        (!before.empty() && before != kBuild) ||
        std::any_of(builds.begin(), builds.end(), [](const auto& b) { return b.first != kBuild; });
    line("recorded by:", text + (other ? "; this drop-replay is " + std::string(kBuild) : ""));
  }
  std::string snap_text = std::to_string(snaps.size());
  if (!snaps.empty()) {
    snap_text += " (newest after entry " + std::to_string(snaps.back().seq) + ", " +
                 FormatTimeMillis(snaps.back().time_ms) + ")";
  }
  line("snapshots:", snap_text);
  if (!kinds.empty()) {
    out << '\n';
    Table t({"KIND", "ENTRIES", "SHARE"});
    for (const auto& [k, n] : kinds) {
      char share[16];
      std::snprintf(share, sizeof share, "%.1f%%", 100.0 * static_cast<double>(n) / entries);
      t.Add({k, std::to_string(n), share});
    }
    t.Print(out);
  }
  return damage;
}

}  // namespace drop::replay
