// llmscale-scaler: one scaler, many fleets (--fleets N). KEDA sends each ScaledObject's trigger
// metadata (scalerMetadata) with every call; a ScaledObject whose metadata describes a fleet
// (its engines' endpoints, policy, bounds, settings: fleet_metadata_keys) gets a fleet of its
// own, keyed by its namespace and name: a headless Scaler (its own tick thread, scrapes,
// signals, policy, state file, record and shadow summary, and no listeners), created at the
// first call that names it, replaced when its metadata changes, and dropped when KEDA has not
// asked for it for fleet_idle_s. Metadata without a fleet key (KEDA's own, scalerAddress and
// the TLS ones, or keys a later version may read) is the command-line fleet, so a single-fleet
// setup keeps working as it did; fleet keys sent to a scaler without --fleets are refused.
//
// The metadata is read as the command line would be (the same checks and ranges), and what is
// wrong is named by its key: an unknown key, an unknown policy or engine, a value out of range
// (KEDA gets INVALID_ARGUMENT). Files a fleet reads or writes are confined to --fleet-dir: a
// profile is a file name in it, and `record: "true"` / `state: "true"` write
// NAMESPACE.NAME.record.csv and NAMESPACE.NAME.state there. On /metrics every series of a
// metadata fleet carries a `fleet="NAMESPACE/NAME"` label.
#ifndef LLMSCALE_TOOLS_SCALER_FLEETS_HPP
#define LLMSCALE_TOOLS_SCALER_FLEETS_HPP

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "scaler.hpp"

namespace llmscale_scaler {

/// The metadata keys a fleet is described by, and the command-line option each stands for.
struct FleetKey {
  const char* key;   ///< in scalerMetadata
  const char* flag;  ///< the llmscale-scaler option it sets ("" for the boolean or file-name keys)
};
extern const std::vector<FleetKey> fleet_metadata_keys;

/// Whether `metadata` describes a fleet of its own: it has one of fleet_metadata_keys (other
/// keys, KEDA's own among them, do not make a fleet; a fleet's metadata may hold no others).
[[nodiscard]] bool describes_fleet(const std::map<std::string, std::string>& metadata);
/// Whether `metadata` has any key but KEDA's own: with --fleets, such metadata is a fleet's, and
/// a key it does not know is refused by name.
[[nodiscard]] bool beyond_keda(const std::map<std::string, std::string>& metadata);

/// The Options of the fleet `metadata` describes for ScaledObject `ns`/`name`: `base`'s scrape
/// and tick settings, the metadata's fleet; headless. Throws UsageError naming the key (or the
/// ScaledObject's name, where it cannot name a file).
[[nodiscard]] Options fleet_options(const Options& base, const std::string& ns, const std::string& name,
                                    const std::map<std::string, std::string>& metadata);

/// `page` (Prometheus text) with `fleet="label"` first among every sample's labels.
[[nodiscard]] std::string label_fleet(std::string_view page, std::string_view label);
/// Pages merged family by family: each family's HELP and TYPE once, then its samples from every
/// page in order (the text format wants a family's samples together).
[[nodiscard]] std::string merge_pages(const std::vector<std::string>& pages);

/// The metadata fleets of one scaler, shared by the gRPC threads and the HTTP thread.
class Fleets {
 public:
  enum class Code { ok, invalid, exhausted, starting };
  /// Changed metadata replaces a fleet once KEDA has sent only it for this long.
  static constexpr double fleet_settle_s = 30;
  struct Found {
    Code code = Code::ok;
    std::string message;              ///< why, when not ok
    std::shared_ptr<Scaler> scaler;   ///< the fleet's, when ok
  };

  /// At most `base.fleets` fleets; `base`'s settings for each.
  explicit Fleets(const Options& base) : base_(base) {}
  ~Fleets() { stop(); }
  Fleets(const Fleets&) = delete;
  Fleets& operator=(const Fleets&) = delete;

  /// The fleet of ScaledObject `ns`/`name` with `metadata` (which describes_fleet()): found, or
  /// created and started (`starting` to calls meanwhile), or, once changed metadata has been all
  /// KEDA sends for fleet_settle_s, stopped and started afresh (changed metadata is checked at
  /// once: a mistake is `invalid` while the fleet runs on). Drops fleets not asked for in
  /// fleet_idle_s first.
  Found find(const std::string& ns, const std::string& name, const std::map<std::string, std::string>& metadata);
  /// Every fleet's /metrics page, labelled with its fleet.
  [[nodiscard]] std::vector<std::string> pages() const;
  /// How many fleets run.
  [[nodiscard]] std::size_t size() const;
  /// Stops every fleet (idempotent).
  void stop();

 private:
  struct Entry {
    std::map<std::string, std::string> metadata;
    std::shared_ptr<Scaler> scaler;  ///< null while it starts
    std::chrono::steady_clock::time_point asked;
    std::map<std::string, std::string> pending;  ///< changed metadata not settled yet
    std::chrono::steady_clock::time_point pending_since;
  };
  Options base_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> fleets_;
};

}  // namespace llmscale_scaler

#endif  // LLMSCALE_TOOLS_SCALER_FLEETS_HPP
