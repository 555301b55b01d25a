// llmscale-scaler --fleets: fleets from KEDA's scalerMetadata (fleets.hpp says what and why).
#include "fleets.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "llmscale/core/number.hpp"
#include "llmscale/policy/registry.hpp"
#include "log.hpp"

namespace llmscale_scaler {

const std::vector<FleetKey> fleet_metadata_keys = {
    {"endpoints", "--endpoints"},         {"engine", "--engine"},           {"policy", "--policy"},
    {"profile", ""},                      {"model", "--model"},             {"hardware", "--hardware"},
    {"tp", "--tp"},                       {"minReplicas", "--min-replicas"}, {"maxReplicas", "--max-replicas"},
    {"set", "--set"},                     {"shadow", ""},                   {"record", ""},
    {"recordWindow", "--record-window"},  {"sloTtft", "--slo-ttft"},        {"hpaTolerance", "--hpa-tolerance"},
    {"state", ""}};

namespace {

// KEDA's own keys of an external trigger: where to dial and how, not what to scale
bool keda_key(const std::string& key) {
  static const char* const own[] = {"scalerAddress", "caCert", "tlsClientCert", "tlsClientKey", "tlsCertFile", "enableTLS", "unsafeSsl"};
  return std::any_of(std::begin(own), std::end(own), [&](const char* k) { return key == k; });
}

// A Kubernetes name as a file-name part: a namespace is a DNS label (no dots, so that
// NAMESPACE.NAME names one ScaledObject), a name a DNS subdomain
bool plain_name(const std::string& s, bool dots) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || (dots && c == '.');
         }) &&
         s.front() != '.' && s.front() != '-';
}

// A command-line error about a flag, told as the metadata key that set it.
std::string name_the_key(const std::string& message, const std::string& who) {
  static const std::pair<const char*, const char*> files[] = {{"--profile", "profile"}, {"--record", "record"}, {"--state-file", "state"}};
  const auto starts = [&](const std::string& flag) {
    return message.compare(0, flag.size(), flag) == 0 &&
           (message.size() == flag.size() || message[flag.size()] == ' ' || message[flag.size()] == ':');
  };
  for (const FleetKey& k : fleet_metadata_keys) {
    if (*k.flag != '\0' && starts(k.flag)) return "scalerMetadata key '" + std::string(k.key) + "'" + message.substr(std::string(k.flag).size());
  }
  for (const auto& [flag, key] : files) {
    if (starts(flag)) return "scalerMetadata key '" + std::string(key) + "'" + message.substr(std::string(flag).size());
  }
  return "scalerMetadata of " + who + ": " + message;
}

// A message that goes back to KEDA, with the scaler's own folder left out.
std::string hide_dir(std::string message, const std::string& dir) {
  if (dir.empty()) return message;
  for (std::size_t at; (at = message.find(dir + "/")) != std::string::npos;) message.erase(at, dir.size() + 1);
  return message;
}

bool truth(const std::string& key, const std::string& v) {
  if (v == "true") return true;
  if (v == "false" || v.empty()) return false;
  throw UsageError("scalerMetadata key '" + key + "': '" + v + "' is not true or false");
}

}  // namespace

bool beyond_keda(const std::map<std::string, std::string>& metadata) {
  return std::any_of(metadata.begin(), metadata.end(), [](const auto& kv) { return !keda_key(kv.first); });
}

bool describes_fleet(const std::map<std::string, std::string>& metadata) {
  return std::any_of(metadata.begin(), metadata.end(), [](const auto& kv) {
    return std::any_of(fleet_metadata_keys.begin(), fleet_metadata_keys.end(), [&](const FleetKey& k) { return kv.first == k.key; });
  });
}

Options fleet_options(const Options& base, const std::string& ns, const std::string& name,
                      const std::map<std::string, std::string>& metadata) {
  const std::string who = "ScaledObject " + ns + "/" + name;
  if (!plain_name(ns, false) || !plain_name(name, true)) throw UsageError(who + ": not a Kubernetes namespace and name");
  // the base's scrape and tick settings, then the metadata's fleet, read as the command line is
  // each option one word, --flag=value: a value such as "-h" or "--help" stays a value
  const auto opt = [](const std::string& flag, const std::string& value) { return flag + "=" + value; };
  std::vector<std::string> args = {opt("--tick", llmscale::format_number(base.tick_s)),
                                   opt("--scrape-timeout", llmscale::format_number(base.scrape_timeout_s)),
                                   opt("--scrape-concurrency", std::to_string(base.scrape_concurrency)),
                                   opt("--max-page-bytes", std::to_string(base.max_page_bytes)),
                                   opt("--kv-capacity-tokens", std::to_string(base.kv_capacity_tokens)),
                                   opt("--metric-name", base.metric_name),
                                   opt("--state-every", std::to_string(base.state_every)),
                                   opt("--state-max-age", llmscale::format_number(base.state_max_age_s)),
                                   opt("--record-max-bytes", std::to_string(base.record_max_bytes))};
  if (base.quiet) args.push_back("--quiet");
  // the scaler's own signal settings (windows, staleness) hold for its fleets too; their slots
  // are their endpoints (below)
  for (const std::string& s : base.sets) {
    if (s.compare(0, 8, "signals.") == 0 && s.compare(0, 21, "signals.replica_slots") != 0) args.push_back(opt("--set", s));
  }
  bool shadow = false, record = false, state = false;
  std::string profile;
  for (const auto& [key, value] : metadata) {
    if (keda_key(key)) continue;
    const auto k = std::find_if(fleet_metadata_keys.begin(), fleet_metadata_keys.end(), [&](const FleetKey& f) { return key == f.key; });
    if (k == fleet_metadata_keys.end()) {
      std::string allowed;
      for (const FleetKey& f : fleet_metadata_keys) allowed += (allowed.empty() ? "" : ", ") + std::string(f.key);
      throw UsageError("scalerMetadata key '" + key + "' is not known; allowed " + allowed);
    }
    if (key == "shadow") shadow = truth(key, value);
    else if (key == "record") record = truth(key, value);
    else if (key == "state") state = truth(key, value);
    else if (key == "profile") profile = value;
    else if (key == "set") {
      // several settings: separated by newlines or semicolons
      std::string rest = value;
      for (char& c : rest) c = c == ';' ? '\n' : c;
      std::size_t at = 0;
      while (at <= rest.size()) {
        const std::size_t nl = rest.find('\n', at);
        std::string one = rest.substr(at, nl == std::string::npos ? std::string::npos : nl - at);
        one.erase(0, one.find_first_not_of(" \t"));
        one.erase(one.find_last_not_of(" \t") + 1);
        if (one.compare(0, 8, "signals.") == 0) {
          // the signals' windows and slots are the scaler's (its memory is sized by them)
          throw UsageError("scalerMetadata key 'set': '" + one + "': signals.* are the scaler's own settings, not a fleet's");
        }
        if (!one.empty()) args.push_back(opt("--set", one));
        if (nl == std::string::npos) break;
        at = nl + 1;
      }
    } else {
      args.push_back(opt(k->flag, value));
    }
  }
  if (const auto p = metadata.find("policy"); p != metadata.end() && llmscale::find_policy(p->second) == nullptr) {
    throw UsageError("scalerMetadata key 'policy': '" + p->second + "' is not known; allowed " + llmscale::registered_policy_names());
  }
  const auto endpoints = metadata.find("endpoints");
  if (endpoints == metadata.end()) throw UsageError("scalerMetadata of " + who + ": endpoints is required");
  // the fleet's replica slots are its endpoints: memory follows what it scrapes
  const std::size_t listed = 1 + static_cast<std::size_t>(std::count(endpoints->second.begin(), endpoints->second.end(), ','));
  args.push_back(opt("--replica-slots", std::to_string(std::min<std::size_t>(listed, static_cast<std::size_t>(base.replica_slots)))));
  const auto in_dir = [&](const std::string& key, const std::string& file) {
    if (base.fleet_dir.empty()) throw UsageError("scalerMetadata key '" + key + "': this scaler has no --fleet-dir for fleets' files");
    return base.fleet_dir + "/" + file;
  };
  if (!profile.empty()) {
    if (profile.find('/') != std::string::npos || profile.front() == '.') {
      throw UsageError("scalerMetadata key 'profile': '" + profile + "' must be a file name in --fleet-dir's profiles/");
    }
    args.push_back(opt("--profile", in_dir("profile", "profiles/" + profile)));
  }
  if (record) args.push_back(opt("--record", in_dir("record", ns + "." + name + ".record.csv")));
  if (state) args.push_back(opt("--state-file", in_dir("state", ns + "." + name + ".state")));
  if (shadow) args.push_back("--shadow");
  // errors name the metadata key where the command line would have named the flag
  Options o;
  try {
    bool help = false;
    o = parse_args(args, help);
    if (help) throw UsageError("-h or --help is not a value");
  } catch (const UsageError& e) {
    throw UsageError(hide_dir(name_the_key(e.what(), who), base.fleet_dir));
  }
  o.headless = true;
  o.fleet = ns + "/" + name;
  o.http_sessions_max = base.http_sessions_max;
  o.grpc_streams_max = base.grpc_streams_max;
  return o;
}

std::string label_fleet(std::string_view page, std::string_view label) {
  std::string out;
  out.reserve(page.size() + page.size() / 4);
  std::string value;
  for (const char c : label) {  // escaped as a label value is
    if (c == '\\' || c == '"' || c == '\n') value += '\\';
    value += c == '\n' ? 'n' : c;
  }
  const std::string add = "fleet=\"" + value + "\"";
  while (!page.empty()) {
    const std::size_t nl = page.find('\n');
    const std::string_view line = page.substr(0, nl == std::string_view::npos ? page.size() : nl + 1);
    page.remove_prefix(line.size());
    if (line.empty() || line.front() == '#' || line.front() == '\n') {
      out += line;
      continue;
    }
    const std::size_t name_end = line.find_first_of("{ \t");
    if (name_end == std::string_view::npos || name_end + 1 >= line.size()) {
      out += line;
      continue;
    }
    out += line.substr(0, name_end);
    if (line[name_end] == '{') {
      out += '{' + add + (line[name_end + 1] == '}' ? "" : ",");
      out += line.substr(name_end + 1);
    } else {
      out += '{' + add + '}';
      out += line.substr(name_end);
    }
  }
  return out;
}

std::string merge_pages(const std::vector<std::string>& pages) {
  // a family: its HELP/TYPE lines and its samples, in the order families first appear
  struct Family {
    std::string head, samples;
  };
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  // a sample of family F is F itself or one of its series (a histogram's, a counter's)
  const auto of_family = [](const std::string& sample, const std::string& family) {
    if (sample == family) return true;
    if (sample.size() <= family.size() || sample.compare(0, family.size(), family) != 0) return false;
    const std::string_view suffix = std::string_view(sample).substr(family.size());
    return suffix == "_bucket" || suffix == "_sum" || suffix == "_count" || suffix == "_total" || suffix == "_created" ||
           suffix == "_info";
  };
  for (const std::string& whole : pages) {
    std::string current;  // the family of the last # line seen (samples follow their TYPE)
    const std::string page = whole.empty() || whole.back() == '\n' ? whole : whole + '\n';  // the last line whole
    std::string_view rest = page;
    while (!rest.empty()) {
      const std::size_t nl = rest.find('\n');
      const std::string_view line = rest.substr(0, nl == std::string_view::npos ? rest.size() : nl + 1);
      rest.remove_prefix(line.size());
      std::string name;
      bool head = false;
      if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
        const std::string_view after = line.substr(7);
        name = std::string(after.substr(0, after.find_first_of(" \t\n")));
        head = true;
      } else if (!line.empty() && line.front() == '#') {
        continue;  // another comment ("# no decision yet")
      } else {
        name = std::string(line.substr(0, line.find_first_of("{ \t\n")));
        // a sample belongs to the family whose TYPE came last when it is one of its series
        // (NAME_bucket, NAME_sum, ...); else to its own name
        if (!current.empty() && of_family(name, current)) name = current;
      }
      if (name.empty()) continue;
      auto [it, fresh] = families.try_emplace(name);
      if (fresh) order.push_back(name);
      if (head) {
        current = name;
        if (it->second.head.find(std::string(line.substr(0, 7))) == std::string::npos) it->second.head += line;
      } else {
        it->second.samples += line;
      }
    }
  }
  std::string out;
  for (const std::string& name : order) {
    out += families[name].head;
    out += families[name].samples;
  }
  return out;
}

Fleets::Found Fleets::find(const std::string& ns, const std::string& name, const std::map<std::string, std::string>& metadata) {
  const std::string key = ns + "/" + name;
  const auto now = std::chrono::steady_clock::now();
  const auto seconds_since = [&](std::chrono::steady_clock::time_point t) { return std::chrono::duration<double>(now - t).count(); };
  std::vector<std::shared_ptr<Scaler>> retired;  // stopped outside the lock
  const auto stop_retired = [&] {
    for (auto& r : retired) {
      if (r) r->stop();
    }
  };
  Found found;
  bool replace = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = fleets_.begin(); it != fleets_.end();) {
      if (it->first != key && it->second.scaler && seconds_since(it->second.asked) > base_.fleet_idle_s) {
        log::write(log::Level::info, "fleet " + it->first + ": not asked for in " + llmscale::format_number(base_.fleet_idle_s) + " s, stopped");
        retired.push_back(std::move(it->second.scaler));
        it = fleets_.erase(it);
      } else {
        ++it;
      }
    }
    auto it = fleets_.find(key);
    if (it != fleets_.end()) {
      Entry& e = it->second;
      e.asked = now;
      if (!e.scaler) {  // another call is starting it
        found.code = Code::starting;
        found.message = "fleet " + key + " is starting";
      } else if (e.metadata == metadata) {
        e.pending.clear();  // the current metadata again: a change not yet settled is dropped
        found.scaler = e.scaler;
      } else if (e.pending != metadata) {
        // changed metadata replaces the fleet only once it has been all KEDA sends for
        // fleet_settle_s: while KEDA's copies disagree (an update in flight), the fleet stays
        e.pending = metadata;
        e.pending_since = now;
        found.scaler = e.scaler;
      } else if (seconds_since(e.pending_since) < fleet_settle_s) {
        found.scaler = e.scaler;
      } else {
        replace = true;
        retired.push_back(std::move(e.scaler));  // stopped before its successor opens its files
        e.scaler.reset();
        e.metadata = metadata;
        e.pending.clear();
      }
    } else if (fleets_.size() >= static_cast<std::size_t>(base_.fleets)) {
      found.code = Code::exhausted;
      found.message = "this scaler serves at most --fleets " + std::to_string(base_.fleets) + " fleets from scalerMetadata, all in use";
    } else {
      fleets_[key] = Entry{metadata, nullptr, now, {}, {}};  // reserved while it starts
      replace = true;
    }
  }
  if (!replace) {
    stop_retired();
    // pending metadata is checked at once, so that a mistake is named while the fleet runs on
    if (found.code == Code::ok && found.scaler) {
      std::lock_guard<std::mutex> lock(mu_);
      const auto it = fleets_.find(key);
      if (it != fleets_.end() && !it->second.pending.empty() && it->second.pending == metadata) {
        try {
          (void)fleet_options(base_, ns, name, metadata);
        } catch (const UsageError& e) {
          it->second.pending.clear();
          return Found{Code::invalid, e.what(), nullptr};
        }
      }
    }
    return found;
  }
  stop_retired();
  // the fleet is built outside the lock (it reads its profile, state and record): other
  // fleets' calls and /metrics go on meanwhile
  const log::Context context("fleet " + key);
  std::shared_ptr<Scaler> scaler;
  try {
    const Options options = fleet_options(base_, ns, name, metadata);
    try {
      scaler = std::make_shared<Scaler>(options);
      scaler->start();
    } catch (const UsageError& e) {
      throw UsageError(hide_dir(name_the_key(e.what(), "ScaledObject " + key), base_.fleet_dir));
    }
    log::write(log::Level::info, retired.empty() ? "started from scalerMetadata" : "its scalerMetadata changed: started afresh");
  } catch (const std::exception& e) {
    found.code = Code::invalid;
    found.message = dynamic_cast<const UsageError*>(&e) != nullptr ? e.what()
                                                                   : "scalerMetadata of ScaledObject " + key + ": " + hide_dir(e.what(), base_.fleet_dir);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (found.code != Code::ok) {
    fleets_.erase(key);
    return found;
  }
  Entry& e = fleets_[key];
  e.scaler = scaler;
  e.asked = now;
  found.scaler = std::move(scaler);
  return found;
}

std::vector<std::string> Fleets::pages() const {
  std::vector<std::pair<std::string, std::shared_ptr<Scaler>>> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [key, e] : fleets_) all.emplace_back(key, e.scaler);
  }
  std::vector<std::string> out;
  for (const auto& [key, s] : all) {
    if (s) out.push_back(label_fleet(s->metrics_text(), key));  // null: starting
  }
  return out;
}

std::size_t Fleets::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fleets_.size();
}

void Fleets::stop() {
  std::map<std::string, Entry> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    all.swap(fleets_);
  }
  for (auto& [key, e] : all) {
    if (e.scaler) e.scaler->stop();
  }
}

}  // namespace llmscale_scaler
