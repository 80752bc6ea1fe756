// Streaming input pipelines (tf.data's Dataset, PyTorch's IterableDataset with its DataLoader's
// workers): a source of elements (rows of tensors, files, TFRecord records, an image folder, a
// function) and stages that map, filter, shuffle, batch, prefetch, interleave, cache, repeat,
// take and skip them. A Pipeline is an immutable description; open() starts one pass over it (an
// iteration), and only the stages' buffers are ever held in memory, never the whole data set
// (unless cache() is asked to keep it).
//
// data::Dataset (data.hpp) is the random-access data set of the DataLoader (PyTorch's map-style
// Dataset); a Pipeline is the streaming one, for data larger than memory or read from shards.
//
// Determinism: the elements and their order depend only on the pipeline, its seeds and the
// iteration number, never on the number of worker threads or on timing: parallel maps deliver
// their results in input order, and a random map draws from a generator seeded by (seed,
// iteration, element number). An exception thrown by a stage or a worker reaches the consumer's
// next(), after the elements before it; destroying a stream mid-way stops and joins its threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nabla/data.hpp"
#include "nabla/tensor.hpp"

namespace nabla::data {

// One element: a sample (input, target) or, after batch(), a batch of them (the first axis the
// batch axis). File and record sources start with `bytes` (a record, or empty for a file that a
// map reads) and `name` (the file, "FILE: record N" for a record), which a map decodes into input
// and target; errors should name `name`.
struct Element {
  Tensor input;
  Tensor target;  // may be undefined
  std::string bytes;
  std::string name;
};

using MapFn = std::function<Element(Element)>;
// A map that draws random numbers (augmentation): `gen` is seeded by (seed, iteration, element
// number), so the draws do not depend on the worker that runs it.
using RandomMapFn = std::function<Element(Element, Generator&)>;
using Predicate = std::function<bool(const Element&)>;

// One pass over a pipeline. next() returns the elements in order, then nullopt; an error raised
// while producing an element is thrown by the next() that would have returned it.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual std::optional<Element> next() = 0;
};

namespace pipeline_internal {
struct Node;  // a stage: what it reads from and how to open a stream (src/data/pipeline*.cpp)
}

class Pipeline {
 public:
  static constexpr int64_t kUnknown = -1;   // cardinality(): depends on the data (filter, files)
  static constexpr int64_t kInfinite = -2;  // cardinality(): repeat() without a count

  // ---- sources ----
  // The rows (first axis) of `inputs` and `targets` (targets may be undefined), as views.
  static Pipeline from_tensors(Tensor inputs, Tensor targets = Tensor());
  // One element per file: name = the path, target = the label (i64 scalar) when labels are given
  // (as many as files), bytes empty. Follow with map(decode_images(...)) or interleave.
  static Pipeline from_files(std::vector<std::string> files, std::vector<int64_t> labels = {});
  // The records of TFRecord files (plain or gzip), read one record at a time (both CRCs checked),
  // files in order: bytes = the record, name = "FILE: record N". Follow with
  // map(decode_tfrecord_examples(...)).
  static Pipeline from_tfrecords(std::vector<std::string> files);
  // `count` elements (kInfinite: no end), element i made by make(i) on the consumer's thread (or
  // the thread of the stage that pulls it).
  static Pipeline from_function(int64_t count, std::function<Element(int64_t)> make);
  // The training (or test) files of an image folder (list_image_folder's split of class folders,
  // or train/ and test/), decoded, converted and resized as load_image_folder does, by `workers`
  // threads; labels as targets.
  static Pipeline from_image_folder(const std::string& dir, const ImageFolderOptions& options,
                                    bool train = true, int64_t workers = 0);

  // ---- stages ----
  // fn on each element. workers = 0: on the thread that pulls; > 0: that many threads, at most
  // 2 * workers elements in flight, results delivered in input order.
  Pipeline map(MapFn fn, int64_t workers = 0) const;
  Pipeline map_random(RandomMapFn fn, uint64_t seed, int64_t workers = 0) const;
  // An Augmentation (random_crop, random_flip, ...) on each element's input (one sample, [C, H, W]
  // or [H, W], or a batch): map_random with the augmentation's own draws.
  Pipeline augment(AugmentationPtr augmentation, uint64_t seed, int64_t workers = 0) const;
  // The elements for which keep() is true.
  Pipeline filter(Predicate keep) const;
  // tf.data's shuffle: a buffer of `buffer_size` elements, each output drawn uniformly from it
  // and replaced by the next input. Seeded by (seed, iteration): every iteration (epoch, repeat)
  // draws a new order, runs repeat. buffer_size >= the data set's size is a full permutation;
  // 1 keeps the order.
  Pipeline shuffle(int64_t buffer_size, uint64_t seed) const;
  // `size` consecutive elements stacked along a new first axis (same shapes and dtypes). The
  // last batch may be smaller unless drop_remainder.
  Pipeline batch(int64_t size, bool drop_remainder = false) const;
  // As batch(), each input (and target) padded at the end of every axis to the batch's largest,
  // with input_pad (target_pad): sequences of different lengths. Ranks and dtypes must agree.
  Pipeline padded_batch(int64_t size, double input_pad = 0, double target_pad = 0,
                        bool drop_remainder = false) const;
  // A background thread keeps up to `buffer` elements ready ahead of the consumer.
  Pipeline prefetch(int64_t buffer = 2) const;
  // tf.data's interleave: each element (a shard's file name) becomes a pipeline by `open`;
  // `cycle_length` of them are read in turn, `block_length` elements from each, a finished one
  // replaced by the next element's. The order is fixed by the inputs, not by timing.
  Pipeline interleave(std::function<Pipeline(const Element&)> open, int64_t cycle_length,
                      int64_t block_length = 1) const;
  // The first complete iteration's elements kept (file = "": in memory; else written to `file`,
  // atomically when the iteration ends) and replayed by later iterations instead of reading the
  // upstream again. An iteration abandoned before its end keeps nothing.
  Pipeline cache(std::string file = "") const;
  // The pipeline `count` times (-1: for ever), each repetition a new iteration (a new shuffle).
  Pipeline repeat(int64_t count = -1) const;
  Pipeline take(int64_t count) const;  // the first `count` elements
  Pipeline skip(int64_t count) const;  // all but the first `count` elements

  // ---- iterating ----
  // A pass over the pipeline; `iteration` (the epoch) seeds the shuffles and random maps.
  std::unique_ptr<Stream> open(int64_t iteration = 0) const;
  // Elements of one iteration when known without reading the data; kUnknown or kInfinite.
  int64_t cardinality() const;
  // Every element of iteration `iteration` (tests and small data).
  std::vector<Element> collect(int64_t iteration = 0) const;

  explicit Pipeline(std::shared_ptr<const pipeline_internal::Node> node);
  const std::shared_ptr<const pipeline_internal::Node>& node() const { return node_; }

 private:
  std::shared_ptr<const pipeline_internal::Node> node_;
};

// ---- maps that decode ----
// An encoded image (the element's bytes, or the file `name` read when bytes are empty) decoded
// (PNG or JPEG), converted to `channels` and resized to height x width, as load_image_folder
// does: input u8 [channels, height, width]; target kept; bytes cleared.
MapFn decode_images(int64_t channels, int64_t height, int64_t width);
// A tf.train.Example record (bytes) read by `features` (TFRecordFeatureSpec, as
// load_tfrecord_data): input the decoded image (u8 [C, H, W]) or the float list, target the i64
// label. A missing feature or one of the wrong type is an Error naming the record and feature.
MapFn decode_tfrecord_examples(const TFRecordFeatureSpec& features);

// ---- TFRecord data streamed (nabla train --stream) ----
struct TFRecordStreams {
  Pipeline train;  // the training samples decoded: input u8 [C, H, W] (or f32), target i64 label
  Tensor test_inputs, test_labels;       // loaded: u8 [N, C, H, W] (or f32 [N, ...]), i64 [N]
  std::vector<std::string> class_names;  // the test part's class_name features, else numbers
};
// load_tfrecord_data's parts without loading the training part: shards named train* and test*
// are the parts; otherwise a record is held out when a seeded hash of its file's name and number
// falls below test_fraction (about that fraction, the same records whatever the folder). The
// training records are read from up to 4 shards in turn (interleave) and decoded by `workers`
// threads. skip_bad_records: a bad record is dropped with a warning on options.warnings (or
// std::cerr); otherwise its Error reaches whoever reads the pipeline.
TFRecordStreams stream_tfrecord_data(const std::string& pattern, const TFRecordOptions& options,
                                     int64_t workers = 1);

}  // namespace nabla::data
