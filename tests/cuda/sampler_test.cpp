// The CUDA sampler's plain part, on any machine: the CPU reference reduction against brute
// force for every block source, the state machine on a fake backend (in-flight skips, harvest
// order, monotone sequence numbers, staleness, errors as values), and the gauges adapter.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "llmscale/cuda/batch_kv.hpp"
#include "llmscale/cuda/sampler.hpp"
#include "llmscale/signals/engine_gauges.hpp"

using llmscale::at_seconds;
using llmscale::BatchKvSample;
using llmscale::BatchKvView;
using llmscale::KvBlockSource;
using llmscale::SamplerCompletion;
using llmscale::SamplerError;
using namespace std::chrono_literals;

namespace {

// Brute force, written differently from the reference: one block at a time per slot, bits
// tested one by one, the free count clamped with std::clamp.
BatchKvSample brute_force(const BatchKvView& v) {
  BatchKvSample s;
  for (int i = 0; i < v.slots; ++i) {
    const int len = v.seq_lens[i];
    if (len < 1) continue;
    s.active_slots += 1;
    s.tokens += len;
    for (int filled = 0; filled < len; filled += v.block_size) s.blocks_from_lengths += 1;
  }
  switch (v.source) {
    case KvBlockSource::lengths: s.blocks_used = s.blocks_from_lengths; break;
    case KvBlockSource::refcounts:
      s.blocks_used = std::count_if(v.block_refcounts, v.block_refcounts + v.total_blocks, [](int r) { return r >= 1; });
      break;
    case KvBlockSource::bitmask:
      for (std::int64_t b = 0; b < v.total_blocks; ++b) s.blocks_used += (v.used_block_mask[b / 32] >> (b % 32)) & 1U;
      break;
    case KvBlockSource::free_count: s.blocks_used = v.total_blocks - std::clamp<std::int64_t>(*v.free_blocks, 0, v.total_blocks); break;
  }
  return s;
}

}  // namespace

TEST_CASE("CPU reference equals brute force on random inputs, for every block source") {
  std::mt19937_64 rng(9);
  std::vector<std::int32_t> lens, refs;
  std::vector<std::uint32_t> mask;
  std::int64_t free_blocks = 0;
  int cases = 0;
  for (int round = 0; round < 4000; ++round) {
    BatchKvView v;
    v.slots = 1 + static_cast<int>(rng() % 700);
    v.block_size = std::array<int, 5>{1, 7, 16, 32, 256}[rng() % 5];
    v.total_blocks = 1 + static_cast<std::int64_t>(rng() % 5000);
    lens.resize(static_cast<std::size_t>(v.slots));
    for (auto& l : lens) {  // empty, negative (unused) and long sequences
      const auto pick = rng() % 10;
      l = pick < 3 ? 0 : pick < 4 ? -static_cast<std::int32_t>(rng() % 5) : static_cast<std::int32_t>(rng() % 40000);
    }
    refs.resize(static_cast<std::size_t>(v.total_blocks));
    for (auto& r : refs) r = static_cast<std::int32_t>(rng() % 4) - 1;  // -1, 0, 1, 2
    mask.resize(static_cast<std::size_t>((v.total_blocks + 31) / 32));
    for (auto& m : mask) m = static_cast<std::uint32_t>(rng());  // bits past total_blocks must be ignored
    free_blocks = static_cast<std::int64_t>(rng() % 7000) - 1000;  // also below 0 and above the total
    v.seq_lens = lens.data();
    v.block_refcounts = refs.data();
    v.used_block_mask = mask.data();
    v.free_blocks = &free_blocks;
    v.source = static_cast<KvBlockSource>(round % 4);
    CAPTURE(round);
    REQUIRE(v.problem().empty());
    const BatchKvSample got = llmscale::reduce_batch_kv(v);
    const BatchKvSample want = brute_force(v);
    CHECK(got.slots == v.slots);
    CHECK(got.active_slots == want.active_slots);
    CHECK(got.tokens == want.tokens);
    CHECK(got.blocks_from_lengths == want.blocks_from_lengths);
    CHECK(got.blocks_used == want.blocks_used);
    CHECK(got.blocks_used >= 0);
    CHECK(got.blocks_used <= std::max(v.total_blocks, got.blocks_from_lengths));
    ++cases;
  }
  CHECK(cases == 4000);
}

TEST_CASE("a view names what is wrong with it") {
  std::vector<std::int32_t> lens(4, 1);
  BatchKvView v;
  CHECK(v.problem().find("seq_lens") != std::string::npos);
  v.seq_lens = lens.data();
  v.slots = 0;
  CHECK(v.problem() == "batch_kv.slots = 0 is out of range; allowed: [1, 16777216]");
  v.slots = 4;
  v.block_size = 0;
  CHECK(v.problem().find("block_size = 0") != std::string::npos);
  v.block_size = 16;
  CHECK(v.problem().empty());
  v.source = KvBlockSource::refcounts;
  CHECK(v.problem().find("block_refcounts is null") != std::string::npos);
  std::vector<std::int32_t> refs(8);
  v.block_refcounts = refs.data();
  CHECK(v.problem().find("total_blocks = 0") != std::string::npos);  // a block source needs the total
  v.total_blocks = 8;
  CHECK(v.problem().empty());
}

namespace {

// A fake backend: the test decides when each launched sample finishes, what it holds, and
// which calls fail.
struct FakeDevice {
  struct Buffer {
    SamplerCompletion state = SamplerCompletion::pending;
    std::uint64_t sequence = 0;
    bool torn = false;
  };
  std::vector<Buffer> buffers;
  std::vector<std::uint64_t> launches;  // sequence of every launch, in order
  bool fail_launch = false;
  bool fail_query = false;
  std::int32_t active = 3;
};

struct FakeBackend {
  FakeDevice* device;
  SamplerError launch(std::size_t buffer, std::uint64_t sequence) noexcept {
    if (device->fail_launch) return SamplerError{2, "out of memory"};
    device->buffers[buffer] = FakeDevice::Buffer{SamplerCompletion::pending, sequence, false};
    device->launches.push_back(sequence);
    return {};
  }
  SamplerCompletion query(std::size_t buffer, SamplerError& error) noexcept {
    if (device->fail_query) {
      error = SamplerError{700, "an illegal memory access was encountered"};
      return SamplerCompletion::failed;
    }
    return device->buffers[buffer].state;
  }
  bool read(std::size_t buffer, std::uint64_t sequence, BatchKvSample& out) noexcept {
    const auto& b = device->buffers[buffer];
    if (b.torn || b.sequence != sequence) return false;
    out = BatchKvSample{};
    out.sequence = b.sequence;
    out.slots = 8;
    out.active_slots = device->active;
    return true;
  }
};
static_assert(llmscale::is_sampler_backend_v<FakeBackend>);
static_assert(!llmscale::is_sampler_backend_v<int>);

using FakeSampler = llmscale::BasicSampler<FakeBackend>;

FakeSampler make(FakeDevice& d, int buffers, double stale_after_s = 2.0) {
  d.buffers.assign(static_cast<std::size_t>(buffers), FakeDevice::Buffer{SamplerCompletion::done, 0, false});  // none launched
  llmscale::SamplerConfig c;
  c.buffers = buffers;
  c.stale_after_s = stale_after_s;
  return FakeSampler(FakeBackend{&d}, c);
}

// Finishes the buffer holding `sequence`.
void finish(FakeDevice& d, std::uint64_t sequence) {
  for (auto& b : d.buffers) {
    if (b.sequence == sequence) b.state = SamplerCompletion::done;
  }
}

}  // namespace

TEST_CASE("a tick with every buffer in flight launches nothing and counts a skip") {
  FakeDevice d;
  FakeSampler s = make(d, 2);
  CHECK(s.tick(at_seconds(1)).launched);
  CHECK(s.tick(at_seconds(2)).launched);
  CHECK(s.in_flight() == 2);
  const auto t = s.tick(at_seconds(3));
  CHECK_FALSE(t.launched);
  CHECK(t.skipped);
  CHECK(s.stats().skipped_in_flight == 1);
  CHECK(d.launches == std::vector<std::uint64_t>{1, 2});
  finish(d, 1);
  const auto u = s.tick(at_seconds(4));  // harvests 1, then launches 3 into its buffer
  CHECK(u.harvested == 1);
  CHECK(u.launched);
  CHECK(s.latest().sequence == 1);
  CHECK(s.latest().sampled_at == at_seconds(1));  // when it was requested
  CHECK(d.launches == std::vector<std::uint64_t>{1, 2, 3});
}

TEST_CASE("samples are harvested in launch order even when a later one reports first") {
  FakeDevice d;
  FakeSampler s = make(d, 3);
  for (int i = 1; i <= 3; ++i) s.tick(at_seconds(i));
  finish(d, 3);  // the newest finishes first: nothing may be harvested past the pending oldest
  CHECK(s.tick(at_seconds(4)).harvested == 0);
  CHECK_FALSE(s.has_sample());
  finish(d, 1);
  CHECK(s.tick(at_seconds(5)).harvested == 1);
  CHECK(s.latest().sequence == 1);
  finish(d, 2);
  const auto t = s.tick(at_seconds(6));
  CHECK(t.harvested == 2);  // 2, then 3
  CHECK(s.latest().sequence == 3);
  CHECK(s.latest().sampled_at == at_seconds(3));
}

TEST_CASE("sequence numbers stay monotone and every launch is accounted for, over random schedules") {
  std::mt19937_64 rng(4);
  for (int run = 0; run < 50; ++run) {
    FakeDevice d;
    const int buffers = 1 + static_cast<int>(rng() % 5);
    FakeSampler s = make(d, buffers);
    std::uint64_t last = 0;
    std::uint64_t torn = 0;
    for (int step = 0; step < 400; ++step) {
      // finish a random subset of what is in flight; tear a few
      for (auto& b : d.buffers) {
        if (b.state == SamplerCompletion::pending && rng() % 3 == 0) {
          b.state = SamplerCompletion::done;
          if (rng() % 50 == 0) {
            b.torn = true;
            ++torn;
          }
        }
      }
      const auto t = s.tick(at_seconds(step));
      CHECK_FALSE(t.error);
      if (s.has_sample()) {
        CHECK(s.latest().sequence >= last);
        last = s.latest().sequence;
      }
      const auto& st = s.stats();
      REQUIRE(st.launched == st.harvested + st.torn + s.in_flight());
      REQUIRE(s.in_flight() <= static_cast<std::size_t>(buffers));
    }
    CHECK(s.stats().launched + s.stats().skipped_in_flight == 400);
    for (auto& b : d.buffers) {  // finish the rest: every torn sample is then counted
      if (b.state == SamplerCompletion::pending) b.state = SamplerCompletion::done;
    }
    s.tick(at_seconds(400));
    CHECK(s.stats().torn == torn);
    for (std::size_t i = 1; i < d.launches.size(); ++i) CHECK(d.launches[i] == d.launches[i - 1] + 1);
  }
}

TEST_CASE("staleness: no sample is stale, and a sample ages from when it was requested") {
  FakeDevice d;
  FakeSampler s = make(d, 2, 2.0);
  CHECK(s.stale(at_seconds(0)));
  CHECK(s.age_s(at_seconds(5)) == 0.0);
  s.tick(at_seconds(10));
  finish(d, 1);
  s.tick(at_seconds(10.5));
  REQUIRE(s.has_sample());
  CHECK(s.age_s(at_seconds(11)) == doctest::Approx(1.0));
  CHECK_FALSE(s.stale(at_seconds(12)));
  CHECK(s.stale(at_seconds(12.001)));  // more than 2 s after it was requested
}

TEST_CASE("backend errors come back as values and are counted - nothing throws") {
  FakeDevice d;
  FakeSampler s = make(d, 2);
  d.fail_launch = true;
  auto t = s.tick(at_seconds(1));
  CHECK_FALSE(t.launched);
  CHECK(t.error.code == 2);
  CHECK(std::string(t.error.message) == "out of memory");
  CHECK(s.stats().errors == 1);
  CHECK(s.in_flight() == 0);
  d.fail_launch = false;
  CHECK(s.tick(at_seconds(2)).launched);
  d.fail_query = true;
  t = s.tick(at_seconds(3));  // the in-flight sample is given up, a new one launched
  CHECK(t.error.code == 700);
  CHECK(s.stats().errors == 2);
  CHECK_FALSE(s.has_sample());
  static_assert(noexcept(s.tick(at_seconds(4))));
}

TEST_CASE("a sampler's config names the bad field") {
  FakeDevice d;
  llmscale::SamplerConfig c;
  c.buffers = 0;
  CHECK(c.problem() == "cuda_sampler.buffers = 0 is out of range; allowed: [1, 64]");
  CHECK_THROWS_AS(FakeSampler(FakeBackend{&d}, c), std::invalid_argument);
  c.buffers = 2;
  c.stale_after_s = std::nan("");
  CHECK(c.problem().find("stale_after_s") != std::string::npos);
}

TEST_CASE("a sample becomes one replica's engine gauges, which the fleet summary reads") {
  std::vector<std::int32_t> lens{100, 0, 17, 33, -1, 0, 0, 64};  // 4 active of 8
  BatchKvView v;
  v.seq_lens = lens.data();
  v.slots = 8;
  v.block_size = 16;
  v.total_blocks = 40;
  BatchKvSample s = llmscale::reduce_batch_kv(v);
  // by hand: blocks 7 + 2 + 3 + 4 = 16 of 40; tokens 214
  CHECK(s.tokens == 214);
  CHECK(s.blocks_used == 16);
  CHECK(s.kv_utilization() == doctest::Approx(0.4));
  CHECK(s.batch_occupancy() == doctest::Approx(0.5));
  s.sampled_at = at_seconds(100);
  const llmscale::ReplicaGauges g = llmscale::to_replica_gauges(s, 3);
  CHECK(g.valid());
  CHECK(g.running == 4);
  CHECK(g.max_batch == 8);
  CHECK(g.queue_length == 3);
  CHECK(g.kv_tokens_used == 256);
  CHECK(g.kv_tokens_capacity == 640);
  CHECK(g.kv_block_size == 16);
  llmscale::EngineGauges gauges(2);
  REQUIRE(gauges.set(0, g));
  const auto f = gauges.summarize(at_seconds(101), 30s);
  CHECK(f.replicas_reporting == 1);
  CHECK(f.batch_occupancy == doctest::Approx(0.5));
  CHECK(f.kv_utilization == doctest::Approx(0.4));
  // without a known cache size the tokens in use are reported, the capacity unknown
  s.total_blocks = 0;
  const llmscale::ReplicaGauges h = llmscale::to_replica_gauges(s, 0);
  CHECK(h.valid());
  CHECK(h.kv_tokens_capacity == 0);
  CHECK(h.kv_tokens_used == 256);
}
