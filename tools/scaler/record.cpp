// llmscale-scaler --record: the windows and the file (record.hpp says what a row holds).
#include "record.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <utility>

#include "llmscale/adapters/histogram_buckets.hpp"
#include "scaler.hpp"

namespace llmscale_scaler {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

void field(std::string& out, double v, const char* format) {
  out += ',';
  if (!std::isfinite(v)) return;  // unknown: blank
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  out += buf;
}

}  // namespace

std::string format_record_row(const RecordWindow& w) {
  std::string out;
  out.reserve(160);
  char start[48];
  std::snprintf(start, sizeof start, "%.3f", w.start_s);
  out += start;
  field(out, w.window_s, "%.3f");
  field(out, w.arrivals, "%.6g");
  field(out, w.prompt_mean, "%.6g");
  field(out, w.prompt_sd, "%.6g");
  field(out, w.output_mean, "%.6g");
  field(out, w.output_sd, "%.6g");
  field(out, w.interarrival_cv, "%.4g");
  field(out, w.ready, "%.0f");
  field(out, w.starting, "%.0f");
  field(out, w.queued, "%.6g");
  field(out, w.running, "%.6g");
  field(out, w.ttft_p50_s, "%.6g");
  field(out, w.ttft_p99_s, "%.6g");
  field(out, w.tpot_p50_s, "%.6g");
  field(out, w.tpot_p99_s, "%.6g");
  field(out, w.desired, "%.0f");
  out += '\n';
  return out;
}

std::optional<RecordWindow> WindowRecorder::tick(double unix_now, const llmscale::ScrapedSignals& signals, const llmscale::Signals& s,
                                                 const llmscale::FleetState& fleet, int desired) {
  const llmscale::ScrapedTotals& now = signals.totals();
  if (!now.primed || !std::isfinite(unix_now)) return std::nullopt;
  if (!started_ || unix_now < start_) {  // the first window, or the wall clock stepped back: start again
    started_ = true;
    start_ = unix_now;
    base_ = now;
    return std::nullopt;
  }
  if (unix_now - start_ < window_s_ - 0.5 * tick_s_) return std::nullopt;
  RecordWindow w;
  w.start_s = start_;
  w.window_s = unix_now - start_;
  w.arrivals = std::max(0.0, (now.completions - base_.completions) + (now.in_system - base_.in_system));
  using H = llmscale::BucketedHistogram;
  const auto increase = [&](H h, llmscale::BucketCounts& d) {
    const std::size_t i = static_cast<std::size_t>(h);
    // buckets whose bounds changed within the window cannot be subtracted: unknown this once
    const std::size_t n = now.layout_epoch[i] == base_.layout_epoch[i] ? signals.layout(h).size : 0;
    for (std::size_t k = 0; k < n; ++k) d[k] = now.buckets[i][k] - base_.buckets[i][k];
    return n;
  };
  const auto lengths = [&](double tokens, double requests, H h, double& mean, double& sd) {
    mean = requests > 0.5 && tokens / requests >= 1 ? tokens / requests : nan;  // under a token: not a mean worth keeping
    llmscale::BucketCounts d{};
    const std::size_t n = increase(h, d);
    sd = n > 0 ? llmscale::bucket_spread(signals.layout(h).le.data(), d.data(), n, mean) : nan;
  };
  lengths(now.prompt_tokens - base_.prompt_tokens, now.prompt_requests - base_.prompt_requests, H::prompt_tokens, w.prompt_mean,
          w.prompt_sd);
  lengths(now.output_tokens - base_.output_tokens, now.output_requests - base_.output_requests, H::output_tokens, w.output_mean,
          w.output_sd);
  w.interarrival_cv = nan;
  const auto quantiles = [&](H h, double& p50, double& p99) {
    llmscale::BucketCounts d{};
    const std::size_t n = increase(h, d);
    p50 = n > 0 ? llmscale::bucket_quantile(signals.layout(h).le.data(), d.data(), n, 0.5) : nan;
    p99 = n > 0 ? llmscale::bucket_quantile(signals.layout(h).le.data(), d.data(), n, 0.99) : nan;
  };
  quantiles(H::ttft, w.ttft_p50_s, w.ttft_p99_s);
  quantiles(H::tpot, w.tpot_p50_s, w.tpot_p99_s);
  w.ready = fleet.ready();
  w.starting = fleet.starting();
  w.queued = s.queued_now;
  w.running = s.running_now;
  w.desired = desired;
  start_ = unix_now;
  base_ = now;
  return w;
}

std::string record_version_line(int version) { return "# llmscale-record " + std::to_string(version); }

std::optional<int> record_version_of(const std::string& first_line) {
  static const std::string prefix = "# llmscale-record ";
  std::string line = first_line;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.compare(0, prefix.size(), prefix) != 0 || line.size() == prefix.size() || line.size() > prefix.size() + 6) return std::nullopt;
  int v = 0;
  for (std::size_t i = prefix.size(); i < line.size(); ++i) {
    if (line[i] < '0' || line[i] > '9') return std::nullopt;
    v = v * 10 + (line[i] - '0');
  }
  return v;
}

namespace {

// After a file is created or renamed, the directory entry itself survives a power loss only once
// the directory is synced.
void sync_directory(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  ::fsync(dfd);
  ::close(dfd);
}

}  // namespace

RecordFile::RecordFile(std::string path, std::uintmax_t max_bytes) : path_(std::move(path)), max_bytes_(max_bytes) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(path_, ec);
  std::ifstream in(path_, std::ios::binary);
  if (exists && !in) throw UsageError("--record '" + path_ + "' exists but cannot be read: name another file (it is not overwritten)");
  std::string error;
  if (in) {
    std::string first;
    std::getline(in, first);
    in.clear();
    in.seekg(0, std::ios::end);
    const auto size = in.tellg();
    if (size > 0) {
      const std::optional<int> v = record_version_of(first);
      if (!v) throw UsageError("--record '" + path_ + "' exists and is not an llmscale record (its first line is not '" + record_version_line() + "'): name another file");
      if (*v != record_version) {
        throw UsageError("--record '" + path_ + "' is a version " + std::to_string(*v) + " record; this llmscale-scaler writes version " +
                         std::to_string(record_version) + ": name another file");
      }
      fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      if (fd_ < 0) throw UsageError("--record '" + path_ + "': " + std::strerror(errno));
      size_ = static_cast<std::uintmax_t>(size);
      // a row a crash cut short ends without a newline: start ours on a line of its own
      in.seekg(-1, std::ios::end);
      char last = '\n';
      in.get(last);
      if (last != '\n') {
        const ssize_t n = ::write(fd_, "\n", 1);
        size_ += n > 0 ? 1 : 0;
      }
      return;
    }
  }
  if (!open_fresh(false, error)) throw UsageError("--record '" + path_ + "': " + error);
}

RecordFile::~RecordFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool RecordFile::open_fresh(bool exclusive, std::string& error) {
  if (fd_ >= 0) ::close(fd_);
  // after a rotation the name must be free: a file someone put there is not overwritten
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC), 0644);
  if (fd_ < 0) {
    error = std::strerror(errno);
    return false;
  }
  const std::string header = record_version_line() + "\n" + record_columns + "\n";
  if (::write(fd_, header.data(), header.size()) != static_cast<ssize_t>(header.size())) {
    // no header, no record: closed, and tried afresh with the next row
    error = std::strerror(errno);
    ::close(fd_);
    ::unlink(path_.c_str());
    fd_ = -1;
    size_ = 0;
    return false;
  }
  size_ = header.size();
  sync_directory(path_);
  return true;
}

bool RecordFile::append(const std::string& row, std::string& error) {
  if (fd_ >= 0 && size_ + row.size() > max_bytes_) {
    const std::string old = path_ + ".1";
    if (std::rename(path_.c_str(), old.c_str()) == 0) {
      ++rotations_;
      ::close(fd_);
      fd_ = -1;
      sync_directory(path_);
    } else {
      // the row goes on in the file as it is (over its size, not lost); the rotation is tried
      // again with the next row
      error = "cannot rename to " + old + ": " + std::strerror(errno) + " (the file grows past --record-max-bytes meanwhile)";
      ++errors_;
    }
  }
  if (fd_ < 0 && !open_fresh(rotations_ > 0, error)) {
    ++errors_;
    return false;
  }
  // one write: a reader (or a crash) sees the row whole or not at all, short of a full disk
  const ssize_t n = ::write(fd_, row.data(), row.size());
  if (n != static_cast<ssize_t>(row.size())) {
    error = n < 0 ? std::strerror(errno) : "short write";
    ++errors_;
    if (n > 0) {  // end the torn row so the next one starts on its own line (the reader skips it)
      size_ += static_cast<std::uintmax_t>(n);
      size_ += ::write(fd_, "\n", 1) == 1 ? 1 : 0;
    }
    return false;
  }
  size_ += row.size();
  if (::fdatasync(fd_) != 0) {
    error = std::string("fdatasync: ") + std::strerror(errno) + " (the row is written, not yet known to be on disk)";
    ++errors_;
    ++rows_;
    return false;
  }
  ++rows_;
  return true;
}

}  // namespace llmscale_scaler
