// Replaces the global operator new/delete with counting versions, so a test can prove a code
// path allocates nothing. Include this header in exactly ONE source file per test executable.
#ifndef LLMSCALE_TESTS_COUNTING_ALLOCATOR_HPP
#define LLMSCALE_TESTS_COUNTING_ALLOCATOR_HPP

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

// GCC sees the replaced operator delete (free) inlined next to operator new and warns of a
// mismatch that is not there: these replacements pair malloc with free.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace llmscale_test {
inline std::atomic<long long> allocation_count{0};

/// Allocations made while one of these lives on the current thread's watch.
class AllocationCounter {
 public:
  AllocationCounter() noexcept : start_(allocation_count.load()) {}
  [[nodiscard]] long long count() const noexcept { return allocation_count.load() - start_; }

 private:
  long long start_;
};
}  // namespace llmscale_test

void* operator new(std::size_t size) {
  llmscale_test::allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  llmscale_test::allocation_count.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  llmscale_test::allocation_count.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size ? size : 1);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  llmscale_test::allocation_count.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size ? size : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

#endif  // LLMSCALE_TESTS_COUNTING_ALLOCATOR_HPP
