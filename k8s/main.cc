// drop-controller-manager: pre-caches container images on Kubernetes nodes, paced, with every
// input and decision journaled (README.md). Flags as in DESIGN.md section 7.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "core/build.h"
#include "core/chars.h"
#include "core/duration.h"
#include "core/image_ref.h"
#include "k8s/client.h"
#include "k8s/log.h"
#include "k8s/manager.h"

namespace {

// A namespace name: a DNS-1123 label, as the API server requires.
std::string CheckNamespace(std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 && drop::IsLowerAlnum(name.front()) &&
            drop::IsLowerAlnum(name.back()) && std::all_of(name.begin(), name.end(), [](char c) {
              return drop::IsLowerAlnum(c) || c == '-';
            });
  if (ok) return "";
  return "'" + name +
         "' is not a namespace name: at most 63 lowercase letters, digits and '-', starting and "
         "ending with a letter or digit";
}

// The replica's name goes into the Lease and every request's User-Agent: printable, not blank.
std::string CheckIdentity(std::string& name) {
  bool printable = std::all_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  });
  // "" is the default ($POD_NAME, else the host).
  bool blank =
      !name.empty() && std::all_of(name.begin(), name.end(), [](char c) { return c == ' '; });
  if (printable && !blank && name.size() <= 253) return "";
  return "must be printable, not only spaces, and at most 253 characters";
}

// The image drop pods copy drop-noop from: a reference the kubelet can pull ("" for the default).
std::string CheckImage(std::string& image) {
  if (image.empty()) return "";
  drop::Result<drop::ImageRef> ref = drop::ParseImageRef(image);
  return ref.ok() ? "" : "'" + image + "' is not an image reference: " + ref.status().message();
}

std::string CheckLevel(std::string& name) {
  drop::k8s::Level level;
  return drop::k8s::Logger::ParseLevel(name, &level) ? "" : "use debug, info, warn or error";
}

std::string CheckRetention(std::string& value) {
  drop::Result<int64_t> ms = drop::ParseDuration(value);
  if (!ms.ok()) return ms.status().message();
  return *ms < 0 ? "must not be negative" : "";
}

std::string CheckQps(std::string& value) {
  char* end = nullptr;
  double qps = std::strtod(value.c_str(), &end);
  if (end != value.c_str() && *end == '\0' && std::isfinite(qps) && qps >= 0) return "";
  return "must be a number of requests per second, 0 or more (0 turns the limit off), not " + value;
}

}  // namespace

int main(int argc, char** argv) {
  drop::k8s::ManagerOptions o;
  std::string retention = "168h";
  CLI::App app{
      "drop-controller-manager: pre-caches container images on the nodes of a cluster, "
      "paced, with every decision journaled"};
  app.set_version_flag("--version", std::string(drop::kBuild));
  app.add_option("--kubeconfig", o.kubeconfig,
                 "kubeconfig file (default: in-cluster service account, else $KUBECONFIG, else "
                 "~/.kube/config)");
  app.add_option("--context", o.context, "kubeconfig context (default: its current-context)");
  app.add_option("--metrics-bind-address", o.metrics_bind_address,
                 "where /metrics is served (plain HTTP); 0 turns it off")
      ->capture_default_str();
  app.add_option("--health-probe-bind-address", o.health_probe_bind_address,
                 "where /healthz and /readyz are served; 0 turns them off")
      ->capture_default_str();
  app.add_flag("--leader-elect", o.leader_elect,
               "take a coordination.k8s.io Lease before acting, so one replica acts at a time "
               "(the default in a cluster); --leader-elect=false turns it off");
  app.add_option("--namespace", o.namespace_, "namespace of the drop pods and the Lease")
      ->capture_default_str()
      ->check(CLI::Validator(CheckNamespace, "NAMESPACE"));
  app.add_option("--journal-dir", o.journal_dir, "where the RocksDB journal lives")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& dir) { return dir.empty() ? std::string("must name a directory") : ""; },
          "DIR"));
  app.add_option("--journal-retention", retention,
                 "keep journal entries this long (Go duration, e.g. 168h); 0 keeps everything")
      ->capture_default_str()
      ->check(CLI::Validator(CheckRetention, "DURATION"));
  app.add_option("--log-level", o.log_level, "debug, info, warn or error")
      ->capture_default_str()
      ->check(CLI::Validator(CheckLevel, "LEVEL"));
  app.add_option("--operator-image", o.operator_image,
                 "image the drop pods copy drop-noop from (default: $DROP_OPERATOR_IMAGE, else "
                 "ghcr.io/drop-io/drop:VERSION)")
      ->check(CLI::Validator(CheckImage, "IMAGE"));
  app.add_option("--identity", o.identity,
                 "this replica's name (default: $POD_NAME, else the host)")
      ->check(CLI::Validator(CheckIdentity, "NAME"));
  app.add_option("--kube-api-qps", o.qps, "client-side rate limit; 0 turns it off")
      ->capture_default_str()
      ->check(CLI::Validator(CheckQps, "QPS"));
  app.add_option("--kube-api-burst", o.burst, "client-side burst")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  bool in_cluster = std::getenv("KUBERNETES_SERVICE_HOST") != nullptr;
  o.leader_elect = in_cluster;
  // CLI11 reads "--kubeconfig=" (a variable that expanded to nothing) as "--kubeconfig" alone and
  // takes the next word for its value, flag or not.
  for (int i = 1; i < argc && std::string_view(argv[i]) != "--"; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--") && arg.find('=') == arg.size() - 1) {
      std::string flag(arg.substr(0, arg.size() - 1));
      std::cerr << flag << "= has nothing after the '=' (a variable that is not set expands to "
                << "nothing); give " << flag << " a value, or leave the flag out\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ConversionError& e) {
    // Only --leader-elect takes a value CLI11 converts; it says "Could not convert: --leader-elect
    // = maybe".
    std::cerr << e.what() << ": --leader-elect takes true or false\n";
    return 2;
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  o.journal_retention_ms = *drop::ParseDuration(retention);
  drop::Status s = drop::k8s::RunManager(o);
  if (s.ok()) return 0;
  // Past its flags the operator speaks only JSON lines, its last words included, so that a log
  // pipeline keeps them with the rest.
  drop::k8s::Logger(drop::k8s::Level::kError).Error("cannot go on", {{"error", s.message()}});
  return s.code() == drop::Status::Code::kInvalidArgument ? 2 : 1;
}
