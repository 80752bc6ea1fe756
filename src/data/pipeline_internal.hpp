// The stages of data::Pipeline (include/nabla/pipeline.hpp). Internal: a Node describes a stage
// and opens streams over it; the threaded stages and the record reader live in their own files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/pipeline.hpp"

namespace nabla::data::pipeline_internal {

struct Node {
  virtual ~Node() = default;
  // One pass; `iteration` is the epoch, or a repetition's mix of it (repeat()).
  virtual std::unique_ptr<Stream> open(uint64_t iteration) const = 0;
  virtual int64_t cardinality() const = 0;
};

// splitmix64's finalizer of seed, iteration and index mixed in turn: the seed of a random map's
// generator for one element, of a shuffle's for one iteration, of a repetition's iteration.
uint64_t pipeline_seed(uint64_t seed, uint64_t iteration, uint64_t index = 0);

// `workers` threads applying fn (random: with a generator seeded by (seed, iteration, element
// number)) to the upstream's elements, at most 2 * workers in flight, results in input order.
std::unique_ptr<Stream> open_parallel_map(std::unique_ptr<Stream> upstream, RandomMapFn fn,
                                          bool random, uint64_t seed, uint64_t iteration,
                                          int64_t workers);
// A thread reading up to `buffer` elements ahead of the consumer.
std::unique_ptr<Stream> open_prefetch(std::unique_ptr<Stream> upstream, int64_t buffer);
// The records of TFRecord files one at a time (src/data/pipeline_sources.cpp).
std::unique_ptr<Stream> open_tfrecord_reader(const std::vector<std::string>& files);

// Elements stacked along a new first axis; padded: each padded at the end of every axis to the
// largest, with input_pad / target_pad.
Element stack_elements(std::vector<Element>& elements, bool padded, double input_pad,
                       double target_pad);

}  // namespace nabla::data::pipeline_internal
