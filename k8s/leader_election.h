// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection package does
// it: a candidate takes the Lease when it is free or its holder has not renewed it for
// lease_duration (measured from when this replica saw it change, so clocks need not agree); the
// leader renews it every retry_period. A leader that has not renewed within renew_deadline stops
// leading at once, before the Lease could expire for anyone else (renew_deadline <
// lease_duration), even while its renew request hangs. On Stop() a leader gives the Lease up so
// another replica takes over without waiting for it to expire.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"
#include "k8s/client.h"
#include "k8s/config.h"

namespace drop::k8s {

struct LeaderElectionOptions {
  std::string namespace_ = "drop-system";
  std::string name = "drop-controller-manager";
  std::string identity;  // this replica; required
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool release_on_stop = true;
};

struct LeaderCallbacks {
  std::function<void()> started_leading;               // on the I/O thread
  std::function<void()> stopped_leading;               // on the I/O thread
  std::function<void(const std::string&)> new_leader;  // the holder changed (maybe to us)
  // A try that failed on an error, not on another replica's hold of the Lease or on losing a
  // race to write it; the next try is a retry_period away. On the I/O thread.
  std::function<void(const ApiStatus&)> failed;
};

class LeaderElector {
 public:
  // Makes its own client from `config` (so renewals do not queue behind the operator's writes in
  // the rate limiter) with short timeouts and no retries of its own: the elector retries every
  // retry_period. Fails on inconsistent durations or a config the client cannot use.
  static Result<std::unique_ptr<LeaderElector>> Create(boost::asio::any_io_executor executor,
                                                       const Config& config,
                                                       ClientOptions client_options,
                                                       LeaderElectionOptions options,
                                                       LeaderCallbacks callbacks);
  ~LeaderElector();  // stops (without waiting for the release)

  void Start();
  // Stops campaigning; a leader stops leading and, with release_on_stop, releases the Lease.
  void Stop();
  // Waits until the elector has ended after Stop() (the release included). Not on the I/O thread.
  bool WaitStopped(std::chrono::milliseconds timeout);

  // Whether this replica holds the Lease and renewed it within renew_deadline. Check it right
  // before acting. Any thread.
  bool Leading() const;
  std::string Leader() const;  // the holder last seen ("" if none)

  struct State;  // shared with the coroutine (leader_election.cc)

 private:
  explicit LeaderElector(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
  std::future<void> done_;
  bool started_ = false;
};

}  // namespace drop::k8s
