// Creation functions, dtype conversion, random generators and the caching allocator.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nabla/nabla.hpp"

using namespace nabla;

TEST(Creation, FilledTensors) {
  EXPECT_EQ(zeros({2, 2}).to_vector<float>(), (std::vector<float>(4, 0.f)));
  EXPECT_EQ(ones({3}, DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(full({2}, 2.5, DType::f64).to_vector<double>(), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(arange(1, 2, 0.25, DType::f32).to_vector<float>(),
            (std::vector<float>{1, 1.25, 1.5, 1.75}));
  EXPECT_EQ(linspace(0, 1, 5, DType::f64).to_vector<double>(),
            (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(from_vector(std::vector<bool>{true, false}).to_string(),
            "tensor([True, False], shape=[2], dtype=bool)");
}

TEST(Creation, CountMismatchIsAnError) {
  try {
    from_vector(std::vector<float>{1, 2, 3}, {2, 2});
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "from_vector: 3 values do not fill shape [2, 2] (4 elements)");
  }
}

TEST(Creation, DtypeConversion) {
  Tensor t = from_vector(std::vector<float>{1.7f, -2.2f});
  EXPECT_EQ(t.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(t.to(DType::f64).dtype(), DType::f64);
  EXPECT_EQ(from_vector(std::vector<uint8_t>{0, 255}).to(DType::f32).to_vector<float>(),
            (std::vector<float>{0, 255}));
}

TEST(Random, SameSeedSameNumbers) {
  Generator a(42), b(42), c(43);
  Tensor x = randn({100}, DType::f32, &a), y = randn({100}, DType::f32, &b);
  Tensor z = randn({100}, DType::f32, &c);
  EXPECT_EQ(x.to_vector<float>(), y.to_vector<float>());
  EXPECT_NE(x.to_vector<float>(), z.to_vector<float>());
}

TEST(Random, Moments) {
  Generator gen(7);
  Tensor n = normal({200000}, 2.0, 3.0, DType::f64, &gen);
  EXPECT_NEAR(mean(n).item<double>(), 2.0, 0.03);
  EXPECT_NEAR(std::sqrt(var(n).item<double>()), 3.0, 0.03);
  Tensor u = uniform({200000}, -1, 1, DType::f64, &gen);
  EXPECT_NEAR(mean(u).item<double>(), 0.0, 0.01);
  EXPECT_GE(min(u).item<double>(), -1.0);
  EXPECT_LT(max(u).item<double>(), 1.0);
  Tensor b = bernoulli({200000}, 0.3, DType::f64, &gen);
  EXPECT_NEAR(mean(b).item<double>(), 0.3, 0.005);
  Tensor p = randperm(50, &gen);
  std::vector<int64_t> v = p.to_vector<int64_t>();
  std::sort(v.begin(), v.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(v[i], i);
}

TEST(Allocator, FreedBlocksAreReused) {
  auto step = [] {
    Tensor t = zeros({1000});
    Tensor u = t + 1.0;
  };
  step();  // warm up: the blocks this step needs are now cached
  const uint64_t before = allocator_stats().system_allocations;
  for (int i = 0; i < 100; ++i) step();
  EXPECT_EQ(allocator_stats().system_allocations, before);
}

// Blocks of 16 MiB and more: one freed in a size class never requested again goes back to the
// system (a data set freed once is not kept), one whose class recurs (a large activation, step
// after step) is cached from its second step on.
TEST(Allocator, LargeBlocksAreCachedOnceTheirClassRecurs) {
  const int64_t size = 7'700'001;  // 30.8 MB of f32
  const uint64_t cached_before = allocator_stats().bytes_cached;
  { Tensor data = empty({size}); }
  EXPECT_EQ(allocator_stats().bytes_cached, cached_before);  // freed once: back to the system
  { Tensor data = empty({size + 1}); }  // the same class again: it recurs, this block is kept
  EXPECT_GT(allocator_stats().bytes_cached, cached_before);

  auto step = [] {
    Tensor activation = empty({22'000'001});  // 88 MB, as a conv activation at batch 1024
    Tensor gradient = empty({22'000'001});
  };
  step();
  step();  // the class recurred: from here on its blocks are cached
  const uint64_t before = allocator_stats().system_allocations;
  for (int i = 0; i < 5; ++i) step();
  EXPECT_EQ(allocator_stats().system_allocations, before);
  empty_cache();
}

TEST(Allocator, LargeBlockFreedOnceGoesBackToTheSystem) {
  const uint64_t cached_before = allocator_stats().bytes_cached;
  { Tensor data = empty({9'100'003}); }  // 36.4 MB, a class no other test uses
  EXPECT_EQ(allocator_stats().bytes_cached, cached_before);
}

TEST(Allocator, BlocksAre64ByteAligned) {
  for (int64_t n : {1, 3, 17, 1000, 12345}) {
    Tensor t = empty({n});
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % 64, 0u);
  }
}

TEST(Threads, SetAndGet) {
  const int before = get_num_threads();
  set_num_threads(1);
  EXPECT_EQ(get_num_threads(), 1);
  set_num_threads(before);
  EXPECT_THROW(set_num_threads(0), Error);
}

// With the flag on, a product whose exact result is denormal gives 0, on every thread of the pool
// (the tensor is large enough to be split over it); off, it keeps the denormal.
TEST(Threads, FlushDenormal) {
  const int before = get_num_threads();
  set_num_threads(2);
  const Tensor x = full({1 << 20}, 1e-20, DType::f32);
  for (const bool on : {true, false}) {
    ASSERT_TRUE(set_flush_denormal(on));
    EXPECT_EQ(flush_denormal(), on);
    const std::vector<float> y = mul(x, x).to_vector<float>();  // 1e-40: denormal in f32
    const auto zeros = std::count(y.begin(), y.end(), 0.f);
    EXPECT_EQ(zeros, on ? static_cast<int64_t>(y.size()) : 0) << "flush " << on;
  }
  {
    FlushDenormalGuard guard;
    EXPECT_TRUE(flush_denormal());
  }
  EXPECT_FALSE(flush_denormal());  // the guard restores the setting it found
  set_num_threads(before);
}
