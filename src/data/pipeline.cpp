// data::Pipeline: the stages that run on the consumer's thread (map without workers, filter,
// shuffle, batch, interleave, repeat, take, skip) and the Pipeline methods that build them.
#include <algorithm>
#include <limits>
#include <utility>

#include "data/pipeline_internal.hpp"
#include "nabla/error.hpp"

namespace nabla::data {
namespace pipeline_internal {

uint64_t pipeline_seed(uint64_t seed, uint64_t iteration, uint64_t index) {
  const auto mix = [](uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  constexpr uint64_t kGamma = 0x9E3779B97F4A7C15ULL;
  uint64_t z = mix(seed ^ 0x5EED0F5EEDC0FFEEULL);
  z = mix(z + kGamma * (iteration + 1));
  return mix(z + kGamma * (index + 1));
}

namespace {

using StreamPtr = std::unique_ptr<Stream>;
using NodePtr = std::shared_ptr<const Node>;

// ---- map and filter on the pulling thread ----
class PipelineMapStream : public Stream {
 public:
  PipelineMapStream(StreamPtr upstream, RandomMapFn fn, bool random, uint64_t seed,
                    uint64_t iteration)
      : upstream_(std::move(upstream)),
        fn_(std::move(fn)),
        random_(random),
        seed_(seed),
        iteration_(iteration) {}
  std::optional<Element> next() override {
    std::optional<Element> element = upstream_->next();
    if (!element) return std::nullopt;
    Generator gen(random_ ? pipeline_seed(seed_, iteration_, index_) : 0);
    ++index_;
    return fn_(std::move(*element), gen);
  }

 private:
  StreamPtr upstream_;
  RandomMapFn fn_;
  bool random_;
  uint64_t seed_, iteration_, index_ = 0;
};

struct PipelineMapNode : Node {
  NodePtr upstream;
  RandomMapFn fn;
  bool random = false;
  uint64_t seed = 0;
  int64_t workers = 0;
  StreamPtr open(uint64_t iteration) const override {
    if (workers > 0) {
      return open_parallel_map(upstream->open(iteration), fn, random, seed, iteration, workers);
    }
    return std::make_unique<PipelineMapStream>(upstream->open(iteration), fn, random, seed,
                                               iteration);
  }
  int64_t cardinality() const override { return upstream->cardinality(); }
};

class PipelineFilterStream : public Stream {
 public:
  PipelineFilterStream(StreamPtr upstream, Predicate keep)
      : upstream_(std::move(upstream)), keep_(std::move(keep)) {}
  std::optional<Element> next() override {
    while (std::optional<Element> element = upstream_->next()) {
      if (keep_(*element)) return element;
    }
    return std::nullopt;
  }

 private:
  StreamPtr upstream_;
  Predicate keep_;
};

struct PipelineFilterNode : Node {
  NodePtr upstream;
  Predicate keep;
  StreamPtr open(uint64_t iteration) const override {
    return std::make_unique<PipelineFilterStream>(upstream->open(iteration), keep);
  }
  int64_t cardinality() const override {
    return upstream->cardinality() == Pipeline::kInfinite ? Pipeline::kInfinite
                                                          : Pipeline::kUnknown;
  }
};

// ---- shuffle: tf.data's buffer ----
class PipelineShuffleStream : public Stream {
 public:
  PipelineShuffleStream(StreamPtr upstream, int64_t buffer_size, uint64_t seed)
      : upstream_(std::move(upstream)), buffer_size_(buffer_size), gen_(seed) {}
  std::optional<Element> next() override {
    while (!upstream_done_ && static_cast<int64_t>(buffer_.size()) < buffer_size_) {
      std::optional<Element> element = upstream_->next();
      if (!element) {
        upstream_done_ = true;
        break;
      }
      buffer_.push_back(std::move(*element));
    }
    if (buffer_.empty()) return std::nullopt;
    const auto j = static_cast<size_t>(gen_.next_int(0, static_cast<int64_t>(buffer_.size()) - 1));
    Element out = std::move(buffer_[j]);
    if (j + 1 != buffer_.size()) buffer_[j] = std::move(buffer_.back());
    buffer_.pop_back();
    return out;
  }

 private:
  StreamPtr upstream_;
  int64_t buffer_size_;
  Generator gen_;
  std::vector<Element> buffer_;
  bool upstream_done_ = false;
};

struct PipelineShuffleNode : Node {
  NodePtr upstream;
  int64_t buffer_size = 1;
  uint64_t seed = 0;
  StreamPtr open(uint64_t iteration) const override {
    return std::make_unique<PipelineShuffleStream>(upstream->open(iteration), buffer_size,
                                                   pipeline_seed(seed, iteration));
  }
  int64_t cardinality() const override { return upstream->cardinality(); }
};

// ---- batch ----
class PipelineBatchStream : public Stream {
 public:
  PipelineBatchStream(StreamPtr upstream, int64_t size, bool drop_remainder, bool padded,
                      double input_pad, double target_pad)
      : upstream_(std::move(upstream)),
        size_(size),
        drop_remainder_(drop_remainder),
        padded_(padded),
        input_pad_(input_pad),
        target_pad_(target_pad) {}
  std::optional<Element> next() override {
    std::vector<Element> elements;
    elements.reserve(static_cast<size_t>(size_));
    while (static_cast<int64_t>(elements.size()) < size_) {
      std::optional<Element> element = upstream_->next();
      if (!element) break;
      elements.push_back(std::move(*element));
    }
    if (elements.empty() || (drop_remainder_ && static_cast<int64_t>(elements.size()) < size_)) {
      return std::nullopt;
    }
    return stack_elements(elements, padded_, input_pad_, target_pad_);
  }

 private:
  StreamPtr upstream_;
  int64_t size_;
  bool drop_remainder_, padded_;
  double input_pad_, target_pad_;
};

struct PipelineBatchNode : Node {
  NodePtr upstream;
  int64_t size = 1;
  bool drop_remainder = false, padded = false;
  double input_pad = 0, target_pad = 0;
  StreamPtr open(uint64_t iteration) const override {
    return std::make_unique<PipelineBatchStream>(upstream->open(iteration), size, drop_remainder,
                                                 padded, input_pad, target_pad);
  }
  int64_t cardinality() const override {
    const int64_t n = upstream->cardinality();
    if (n < 0) return n;
    return drop_remainder ? n / size : (n + size - 1) / size;
  }
};

// ---- interleave ----
class PipelineInterleaveStream : public Stream {
 public:
  PipelineInterleaveStream(StreamPtr upstream, std::function<Pipeline(const Element&)> make,
                           int64_t cycle_length, int64_t block_length, uint64_t iteration)
      : upstream_(std::move(upstream)),
        make_(std::move(make)),
        slots_(static_cast<size_t>(cycle_length)),
        block_length_(block_length),
        iteration_(iteration) {}
  std::optional<Element> next() override {
    for (;;) {
      StreamPtr& slot = slots_[current_];
      if (!slot && !upstream_done_) {
        std::optional<Element> input = upstream_->next();
        if (input) {
          slot = make_(*input).open(static_cast<int64_t>(iteration_));
        } else {
          upstream_done_ = true;
        }
      }
      if (!slot) {
        if (upstream_done_ && std::none_of(slots_.begin(), slots_.end(),
                                           [](const StreamPtr& s) { return s != nullptr; })) {
          return std::nullopt;
        }
        advance();
        continue;
      }
      std::optional<Element> element = slot->next();
      if (element) {
        if (++taken_ == block_length_) advance();
        return element;
      }
      slot.reset();  // exhausted: the next visit opens the next input in its place
      advance();
    }
  }

 private:
  void advance() {
    current_ = (current_ + 1) % slots_.size();
    taken_ = 0;
  }
  StreamPtr upstream_;
  std::function<Pipeline(const Element&)> make_;
  std::vector<StreamPtr> slots_;
  int64_t block_length_;
  uint64_t iteration_;
  size_t current_ = 0;
  int64_t taken_ = 0;
  bool upstream_done_ = false;
};

struct PipelineInterleaveNode : Node {
  NodePtr upstream;
  std::function<Pipeline(const Element&)> make;
  int64_t cycle_length = 1, block_length = 1;
  StreamPtr open(uint64_t iteration) const override {
    return std::make_unique<PipelineInterleaveStream>(upstream->open(iteration), make, cycle_length,
                                                      block_length, iteration);
  }
  int64_t cardinality() const override { return Pipeline::kUnknown; }
};

// ---- repeat, take, skip ----
class PipelineRepeatStream : public Stream {
 public:
  PipelineRepeatStream(NodePtr upstream, int64_t count, uint64_t iteration)
      : upstream_(std::move(upstream)), count_(count), iteration_(iteration) {}
  std::optional<Element> next() override {
    for (;;) {
      if (!current_) {
        if (count_ >= 0 && repetition_ >= count_) return std::nullopt;
        // Repetition 0 is the iteration itself, so repeat(1) changes nothing.
        const uint64_t it = repetition_ == 0 ? iteration_ : pipeline_seed(iteration_, repetition_);
        current_ = upstream_->open(it);
        yielded_ = false;
      }
      std::optional<Element> element = current_->next();
      if (element) {
        yielded_ = true;
        return element;
      }
      current_.reset();
      ++repetition_;
      if (!yielded_) return std::nullopt;  // an empty pass would repeat for ever
    }
  }

 private:
  NodePtr upstream_;
  int64_t count_;
  uint64_t iteration_;
  int64_t repetition_ = 0;
  StreamPtr current_;
  bool yielded_ = false;
};

struct PipelineRepeatNode : Node {
  NodePtr upstream;
  int64_t count = -1;
  StreamPtr open(uint64_t iteration) const override {
    return std::make_unique<PipelineRepeatStream>(upstream, count, iteration);
  }
  int64_t cardinality() const override {
    const int64_t n = upstream->cardinality();
    if (n == 0 || count == 0) return 0;
    if (count < 0 || n == Pipeline::kInfinite) return Pipeline::kInfinite;
    return n < 0 ? n : n * count;
  }
};

class PipelineTakeSkipStream : public Stream {
 public:
  PipelineTakeSkipStream(StreamPtr upstream, int64_t take, int64_t skip)
      : upstream_(std::move(upstream)), take_(take), skip_(skip) {}
  std::optional<Element> next() override {
    for (; skip_ > 0; --skip_) {
      if (!upstream_->next()) return std::nullopt;
    }
    if (take_ == 0) return std::nullopt;
    if (take_ > 0) --take_;
    return upstream_->next();
  }

 private:
  StreamPtr upstream_;
  int64_t take_, skip_;  // take_ < 0: no limit
};

struct PipelineTakeSkipNode : Node {
  NodePtr upstream;
  int64_t take = -1, skip = 0;
  StreamPtr open(uint64_t iteration) const override {
    return std::make_unique<PipelineTakeSkipStream>(upstream->open(iteration), take, skip);
  }
  int64_t cardinality() const override {
    const int64_t n = upstream->cardinality();
    if (take >= 0) return n == Pipeline::kInfinite ? take : n < 0 ? n : std::min(n, take);
    return n < 0 ? n : std::max<int64_t>(0, n - skip);
  }
};

// ---- prefetch ----
struct PipelinePrefetchNode : Node {
  NodePtr upstream;
  int64_t buffer = 2;
  StreamPtr open(uint64_t iteration) const override {
    return open_prefetch(upstream->open(iteration), buffer);
  }
  int64_t cardinality() const override { return upstream->cardinality(); }
};

template <class N>
std::pair<std::shared_ptr<N>, Pipeline> pipeline_stage(const Pipeline& upstream) {
  auto node = std::make_shared<N>();
  node->upstream = upstream.node();
  return {node, Pipeline(node)};
}

}  // namespace
}  // namespace pipeline_internal

Pipeline::Pipeline(std::shared_ptr<const pipeline_internal::Node> node) : node_(std::move(node)) {
  NABLA_CHECK(node_ != nullptr, "Pipeline: null stage");
}

Pipeline Pipeline::map(MapFn fn, int64_t workers) const {
  NABLA_CHECK(fn != nullptr, "Pipeline::map: the function is empty");
  NABLA_CHECK(workers >= 0, "Pipeline::map: workers must be >= 0, got ", workers);
  auto [node, out] = pipeline_internal::pipeline_stage<pipeline_internal::PipelineMapNode>(*this);
  node->fn = [fn = std::move(fn)](Element element, Generator&) { return fn(std::move(element)); };
  node->workers = workers;
  return out;
}

Pipeline Pipeline::map_random(RandomMapFn fn, uint64_t seed, int64_t workers) const {
  NABLA_CHECK(fn != nullptr, "Pipeline::map_random: the function is empty");
  NABLA_CHECK(workers >= 0, "Pipeline::map_random: workers must be >= 0, got ", workers);
  auto [node, out] = pipeline_internal::pipeline_stage<pipeline_internal::PipelineMapNode>(*this);
  node->fn = std::move(fn);
  node->random = true;
  node->seed = seed;
  node->workers = workers;
  return out;
}

Pipeline Pipeline::augment(AugmentationPtr augmentation, uint64_t seed, int64_t workers) const {
  NABLA_CHECK(augmentation != nullptr, "Pipeline::augment: the augmentation is null");
  return map_random(
      [augmentation](Element element, Generator& gen) {
        NABLA_CHECK(element.input.defined(), "Pipeline::augment: element ", element.name,
                    " has no input (decode it with a map first)");
        // A sample [C, H, W] or [H, W] goes through as a batch of one.
        const bool batched = element.input.dim() == 4;
        const Tensor batch = batched ? element.input : element.input.unsqueeze(0);
        const Tensor out = augmentation->apply(batch, gen);
        element.input = batched ? out : out.squeeze(0);
        return element;
      },
      seed, workers);
}

Pipeline Pipeline::filter(Predicate keep) const {
  NABLA_CHECK(keep != nullptr, "Pipeline::filter: the predicate is empty");
  auto [node, out] =
      pipeline_internal::pipeline_stage<pipeline_internal::PipelineFilterNode>(*this);
  node->keep = std::move(keep);
  return out;
}

Pipeline Pipeline::shuffle(int64_t buffer_size, uint64_t seed) const {
  NABLA_CHECK(buffer_size >= 1, "Pipeline::shuffle: buffer_size must be >= 1, got ", buffer_size);
  auto [node, out] =
      pipeline_internal::pipeline_stage<pipeline_internal::PipelineShuffleNode>(*this);
  node->buffer_size = buffer_size;
  node->seed = seed;
  return out;
}

Pipeline Pipeline::batch(int64_t size, bool drop_remainder) const {
  NABLA_CHECK(size >= 1, "Pipeline::batch: size must be >= 1, got ", size);
  auto [node, out] = pipeline_internal::pipeline_stage<pipeline_internal::PipelineBatchNode>(*this);
  node->size = size;
  node->drop_remainder = drop_remainder;
  return out;
}

Pipeline Pipeline::padded_batch(int64_t size, double input_pad, double target_pad,
                                bool drop_remainder) const {
  NABLA_CHECK(size >= 1, "Pipeline::padded_batch: size must be >= 1, got ", size);
  auto [node, out] = pipeline_internal::pipeline_stage<pipeline_internal::PipelineBatchNode>(*this);
  node->size = size;
  node->drop_remainder = drop_remainder;
  node->padded = true;
  node->input_pad = input_pad;
  node->target_pad = target_pad;
  return out;
}

Pipeline Pipeline::prefetch(int64_t buffer) const {
  NABLA_CHECK(buffer >= 1, "Pipeline::prefetch: buffer must be >= 1, got ", buffer);
  auto [node, out] =
      pipeline_internal::pipeline_stage<pipeline_internal::PipelinePrefetchNode>(*this);
  node->buffer = buffer;
  return out;
}

Pipeline Pipeline::interleave(std::function<Pipeline(const Element&)> open, int64_t cycle_length,
                              int64_t block_length) const {
  NABLA_CHECK(open != nullptr, "Pipeline::interleave: the function is empty");
  NABLA_CHECK(cycle_length >= 1 && block_length >= 1, "Pipeline::interleave: cycle_length and ",
              "block_length must be >= 1, got ", cycle_length, " and ", block_length);
  auto [node, out] =
      pipeline_internal::pipeline_stage<pipeline_internal::PipelineInterleaveNode>(*this);
  node->make = std::move(open);
  node->cycle_length = cycle_length;
  node->block_length = block_length;
  return out;
}

Pipeline Pipeline::repeat(int64_t count) const {
  NABLA_CHECK(count >= -1, "Pipeline::repeat: count must be >= 0, or -1 for ever, got ", count);
  auto [node, out] =
      pipeline_internal::pipeline_stage<pipeline_internal::PipelineRepeatNode>(*this);
  node->count = count;
  return out;
}

Pipeline Pipeline::take(int64_t count) const {
  NABLA_CHECK(count >= 0, "Pipeline::take: count must be >= 0, got ", count);
  auto [node, out] =
      pipeline_internal::pipeline_stage<pipeline_internal::PipelineTakeSkipNode>(*this);
  node->take = count;
  return out;
}

Pipeline Pipeline::skip(int64_t count) const {
  NABLA_CHECK(count >= 0, "Pipeline::skip: count must be >= 0, got ", count);
  auto [node, out] =
      pipeline_internal::pipeline_stage<pipeline_internal::PipelineTakeSkipNode>(*this);
  node->skip = count;
  return out;
}

std::unique_ptr<Stream> Pipeline::open(int64_t iteration) const {
  NABLA_CHECK(iteration >= 0, "Pipeline::open: iteration must be >= 0, got ", iteration);
  return node_->open(static_cast<uint64_t>(iteration));
}

int64_t Pipeline::cardinality() const { return node_->cardinality(); }

std::vector<Element> Pipeline::collect(int64_t iteration) const {
  NABLA_CHECK(cardinality() != kInfinite, "Pipeline::collect: the pipeline never ends ",
              "(repeat() without a count); take() a part of it first");
  std::vector<Element> out;
  const std::unique_ptr<Stream> stream = open(iteration);
  while (std::optional<Element> element = stream->next()) out.push_back(std::move(*element));
  return out;
}

}  // namespace nabla::data
