// bench_watch: the informer's hot path and its memory, beside a baseline measured in the same run.
//   pods     pod watch events/s through the watch decoder (fed 16 KiB chunks, as HTTP delivers
//            them) and the projection to v1::Pod, against a bare Boost.JSON parse (json::parser
//            into an arena, one event at a time) of the same bytes. The decoder builds only the
//            members the projection reads (ProjectedWatchEventFields); the same path building
//            every member, as Boost.JSON's stream_parser does, is shown beside it. Events recorded
//            from the test cluster, managedFields included:
//              drop pods     tests/k8s/testdata/drop_pod_watch_events.jsonl: the pods
//                            drop-controller-manager made in `make demo`, from creation to
//                            deletion (six that pulled, one whose image does not exist);
//              applied pods  tests/k8s/testdata/pod_watch_events.jsonl: drop-shaped pods made
//                            with `kubectl apply`, which adds a 2 KB last-applied annotation.
//                                         target >= 100,000 events/s and >= 0.5 of the bare parse
//   memory   per watched Node with 50 images: the API's JSON, the parsed JSON value a cache of
//            raw objects would keep, and the projected v1::Node the core keeps (the client itself
//            keeps nothing per object). Heap bytes measured with mallinfo2.
// Runs on one core (CPU 0 where allowed). Prints figures; never fails.
// Usage: bench_watch [--seconds S] [--events FILE]
#include <malloc.h>
#include <sched.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "k8s/json_select.h"
#include "k8s/json_util.h"
#include "k8s/projection.h"
#include "k8s/watch_stream.h"

namespace json = boost::json;
using drop::k8s::WatchDecoder;
using Steady = std::chrono::steady_clock;

namespace {

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) lines.push_back(l + "\n");
  }
  return lines;
}

struct Rate {
  double events_per_s = 0;
  double mb_per_s = 0;
};

// The informer's path: chunks into the decoder, each event projected. `selection`: the members
// the decoder builds (nullptr: all).
Rate DecodeAndProject(const std::string& stream, size_t events_per_pass,
                      const drop::k8s::JsonSelection* selection, double seconds,
                      uint64_t* checksum) {
  constexpr size_t kChunk = 16 * 1024;
  WatchDecoder decoder(selection);
  uint64_t events = 0, bytes = 0;
  auto t0 = Steady::now();
  do {
    for (size_t pos = 0; pos < stream.size();) {
      size_t end = std::min(stream.size(), pos + kChunk);
      while (pos < end) {
        drop::Result<size_t> used = decoder.Feed(stream.data() + pos, end - pos);
        if (!used.ok()) {
          std::fprintf(stderr, "decode: %s\n", used.status().ToString().c_str());
          return {};
        }
        pos += *used;
        if (std::optional<drop::k8s::WatchEvent> e = decoder.event()) {
          drop::v1::Pod pod = drop::k8s::ProjectPod(*e->object);
          *checksum += pod.name().size() + static_cast<uint64_t>(pod.phase());
        }
      }
    }
    events += events_per_pass;
    bytes += stream.size();
  } while (Seconds(t0) < seconds);
  double s = Seconds(t0);
  return {events / s, bytes / s / 1e6};
}

// The baseline: a bare parse of each event into an arena, nothing else.
Rate BareParse(const std::vector<std::string>& lines, double seconds, uint64_t* checksum) {
  static unsigned char arena[64 * 1024];
  json::parser parser;
  uint64_t events = 0, bytes = 0;
  auto t0 = Steady::now();
  do {
    for (const std::string& l : lines) {
      json::monotonic_resource mr(arena, sizeof arena);
      parser.reset(&mr);
      json::error_code ec;
      parser.write(l, ec);
      json::value v = parser.release();
      *checksum += v.is_object() ? v.as_object().size() : 0;
      bytes += l.size();
    }
    events += lines.size();
  } while (Seconds(t0) < seconds);
  double s = Seconds(t0);
  return {events / s, bytes / s / 1e6};
}

void Pods(const char* label, const std::string& stream, double seconds) {
  std::vector<std::string> lines = Lines(stream);
  const drop::k8s::JsonSelection* read = &drop::k8s::ProjectedWatchEventFields(drop::v1::KIND_POD);
  uint64_t sink = 0;
  // Warm up each path once, then measure each twice and keep the better (the box is shared).
  DecodeAndProject(stream, lines.size(), read, 0.2, &sink);
  DecodeAndProject(stream, lines.size(), nullptr, 0.2, &sink);
  BareParse(lines, 0.2, &sink);
  Rate ours{}, whole{}, bare{};
  for (int i = 0; i < 2; ++i) {
    Rate a = DecodeAndProject(stream, lines.size(), read, seconds, &sink);
    Rate b = DecodeAndProject(stream, lines.size(), nullptr, seconds, &sink);
    Rate c = BareParse(lines, seconds, &sink);
    if (a.events_per_s > ours.events_per_s) ours = a;
    if (b.events_per_s > whole.events_per_s) whole = b;
    if (c.events_per_s > bare.events_per_s) bare = c;
  }
  std::printf(
      "pods %-13s %5.0f B/event  decode+project %7.0f events/s (%4.0f MB/s)   bare parse %7.0f "
      "events/s (%4.0f MB/s)   ratio %.2f   [building every member: %7.0f events/s]%s\n",
      label, static_cast<double>(stream.size()) / lines.size(), ours.events_per_s, ours.mb_per_s,
      bare.events_per_s, bare.mb_per_s, ours.events_per_s / bare.events_per_s, whole.events_per_s,
      sink == 0 ? " (!)" : "");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A node as the kubelet reports it, with `images` images (two names each, as containerd lists
// them: repo@sha256 and repo:tag).
std::string NodeJson(int index, int images) {
  char hex[65];
  std::string imgs;
  for (int i = 0; i < images; ++i) {
    for (int j = 0; j < 64; ++j)
      hex[j] = "0123456789abcdef"[(i * 131 + j * 7 + index) % 16];
    hex[64] = 0;
    std::string repo =
        "registry.example.com/team-" + std::to_string(i % 7) + "/service-" + std::to_string(i);
    imgs += std::string(i ? "," : "") + R"({"names":[")" + repo + "@sha256:" + hex + R"(",")" +
            repo + ":1." + std::to_string(i) + R"(.0"],"sizeBytes":)" +
            std::to_string(50'000'000 + i * 1'000'003) + "}";
  }
  std::string name = "ip-10-0-" + std::to_string(index / 250) + "-" + std::to_string(index % 250) +
                     ".ec2.internal";
  return R"({"apiVersion":"v1","kind":"Node","metadata":{"name":")" + name +
         R"(","uid":"1676745e-ea39-4bea-aae6-)" + std::to_string(100000000000 + index) +
         R"(","resourceVersion":"123456","creationTimestamp":"2026-11-25T12:33:58Z",)"
         R"("labels":{"beta.kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux",)"
         R"("kubernetes.io/arch":"amd64","kubernetes.io/hostname":")" +
         name +
         R"(","kubernetes.io/os":"linux","node.kubernetes.io/instance-type":"p4d.24xlarge",)"
         R"("topology.kubernetes.io/zone":"us-east-1a","pool":"gpu"},)"
         R"("annotations":{"node.alpha.kubernetes.io/ttl":"0","volumes.kubernetes.io/controller-managed-attach-detach":"true"}},)"
         R"("spec":{"providerID":"aws:///us-east-1a/i-0123456789abcdef0","taints":[{"key":"gpu","value":"true","effect":"NoSchedule"}]},)"
         R"("status":{"capacity":{"cpu":"96","memory":"1152Gi","pods":"110","nvidia.com/gpu":"8"},)"
         R"("allocatable":{"cpu":"95","memory":"1100Gi","pods":"110","nvidia.com/gpu":"8"},"conditions":[)"
         R"({"type":"MemoryPressure","status":"False","lastHeartbeatTime":"2026-11-25T12:33:58Z","lastTransitionTime":"2026-11-25T12:33:58Z","reason":"KubeletHasSufficientMemory","message":"kubelet has sufficient memory available"},)"
         R"({"type":"DiskPressure","status":"False","lastHeartbeatTime":"2026-11-25T12:33:58Z","lastTransitionTime":"2026-11-25T12:33:58Z","reason":"KubeletHasNoDiskPressure","message":"kubelet has no disk pressure"},)"
         R"({"type":"PIDPressure","status":"False","lastHeartbeatTime":"2026-11-25T12:33:58Z","lastTransitionTime":"2026-11-25T12:33:58Z","reason":"KubeletHasSufficientPID","message":"kubelet has sufficient PID available"},)"
         R"({"type":"Ready","status":"True","lastHeartbeatTime":"2026-11-25T12:33:58Z","lastTransitionTime":"2026-11-25T12:33:58Z","reason":"KubeletReady","message":"kubelet is posting ready status"}],)"
         R"("addresses":[{"type":"InternalIP","address":"10.0.1.2"},{"type":"Hostname","address":")" +
         name +
         R"("}],"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},)"
         R"("nodeInfo":{"machineID":"ec2","systemUUID":"ec2","bootID":"b","kernelVersion":"6.1.0","osImage":"Amazon Linux 2023","containerRuntimeVersion":"containerd://2.1.0","kubeletVersion":"v1.34.4","kubeProxyVersion":"","operatingSystem":"linux","architecture":"amd64"},)"
         R"("images":[)" +
         imgs + "]}}";
}

size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

void Memory() {
  constexpr int kNodes = 2000;
  constexpr int kImages = 50;
  std::vector<std::string> texts;
  size_t json_bytes = 0;
  for (int i = 0; i < kNodes; ++i) {
    texts.push_back(NodeJson(i, kImages));
    json_bytes += texts.back().size();
  }
  malloc_trim(0);
  size_t before = HeapInUse();
  std::vector<json::value> parsed;
  parsed.reserve(kNodes);
  for (const std::string& t : texts)
    parsed.push_back(json::parse(t));
  size_t after_json = HeapInUse();
  std::vector<drop::v1::Node> nodes;
  nodes.reserve(kNodes);
  size_t before_nodes = HeapInUse();
  size_t space_used = 0, hashes = 0;
  for (const json::value& v : parsed) {
    nodes.push_back(drop::k8s::ProjectNode(v.as_object()));
    space_used += nodes.back().SpaceUsedLong();
    hashes += nodes.back().image_hashes_size();
  }
  size_t after_nodes = HeapInUse();
  std::printf(
      "memory per Node with %d images (mean of %d):  JSON from the API %zu B   parsed "
      "json::value %zu B   projected v1::Node %zu B heap (SpaceUsedLong %zu B, %zu image "
      "hashes, %zu B serialized)   client-side cache: none\n",
      kImages, kNodes, json_bytes / kNodes, (after_json - before) / kNodes,
      (after_nodes - before_nodes) / kNodes, space_used / kNodes, hashes / kNodes,
      nodes[0].ByteSizeLong());
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.5;
  std::vector<std::pair<std::string, std::string>> files = {
      {"drop pods", DROP_TESTDATA "/drop_pod_watch_events.jsonl"},
      {"applied pods", DROP_TESTDATA "/pod_watch_events.jsonl"}};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = std::atof(argv[++i]);
    if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) files = {{"(--events)", argv[++i]}};
    // Other flags (make bench passes Google Benchmark's) are ignored.
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  sched_setaffinity(0, sizeof one, &one);  // one core, if allowed

  std::printf("bench_watch: recorded pod watch events, %.1f s per measurement, one core\n",
              seconds);
  for (const auto& [label, path] : files) {
    std::string recorded = ReadFile(path);
    if (recorded.empty()) {
      std::printf("bench_watch: no events in %s\n", path.c_str());
      continue;
    }
    Pods(label.c_str(), recorded, seconds);
  }
  Memory();
  return 0;
}
