// Data: datasets, the batching DataLoader (seeded per-epoch shuffle, background prefetch),
// readers for IDX (MNIST/Fashion-MNIST, plain or gzip) and CSV, and simple transforms. The first
// axis of every input/target tensor is the sample axis. Readers fail with an Error that names the
// file, what was wrong and how to fix it.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "nabla/tensor.hpp"

namespace nabla::data {

struct Example {
  Tensor input;
  Tensor target;  // may be undefined (unlabelled data)
};

struct Batch {
  Tensor inputs;   // [batch, ...]
  Tensor targets;  // [batch, ...]; undefined when the dataset has no targets
  // 0 for the empty part a shard may get of a short last batch (DataLoaderOptions::shard_count).
  int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Example get(int64_t index) const = 0;
  // The examples at `indices` stacked along a new first axis. The default copies each get(i)
  // into one buffer (all examples must share shape and dtype); datasets backed by tensors
  // override it to copy rows directly. Must be safe to call from the prefetch thread.
  virtual Batch get_batch(const std::vector<int64_t>& indices) const;
};

// Samples are the rows (first axis) of `inputs` and `targets`; targets may be undefined.
// Batches are gathered with one memcpy per row (one per run of consecutive rows).
class TensorDataset : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets = Tensor());
  int64_t size() const override;
  Example get(int64_t index) const override;  // views of row `index`
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  Tensor inputs_;   // contiguous
  Tensor targets_;  // contiguous or undefined
};

// Copies rows `indices` of `source` (first axis) into a new contiguous tensor [indices.size(),
// ...]. Consecutive indices are copied as one block. Error when an index is out of range.
Tensor gather_rows(const Tensor& source, const std::vector<int64_t>& indices);

// ---- augmentation (src/data/augment.cpp) ----
// Random transforms of a batch of images [N, C, H, W] or [N, H, W] (u8 or floating; the dtype is
// kept except by Normalize, which returns f32). Each sample draws its own random parameters from
// `gen`, in sample order, so a seed fixes the result. The DataLoader applies the augmentation to
// each batch's inputs (in its prefetch thread when prefetching) with a generator seeded by
// (seed, epoch, batch index): runs repeat, with or without prefetch.
class Augmentation {
 public:
  virtual ~Augmentation() = default;
  virtual Tensor apply(const Tensor& batch, Generator& gen) const = 0;
  // "RandomCrop(padding=4)": for logs and summaries.
  virtual std::string to_string() const = 0;
};
using AugmentationPtr = std::shared_ptr<const Augmentation>;

// Pads each image by `padding` pixels of `fill` on every side, then crops a random window of the
// original size (torchvision's RandomCrop(size, padding)).
AugmentationPtr random_crop(int64_t padding, double fill = 0);
// Mirrors each image left-right (horizontal) and/or top-bottom (vertical) with probability p.
AugmentationPtr random_flip(bool horizontal = true, bool vertical = false, double p = 0.5);
// Shifts each image by a whole number of pixels drawn uniformly from
// [-height_factor * H, height_factor * H] (rows) and likewise for columns; uncovered pixels get
// `fill` (Keras's RandomTranslation with fill_mode="constant").
AugmentationPtr random_translation(double height_factor, double width_factor, double fill = 0);
// With probability p, sets a random rectangle of each image to `value` (Zhong et al. 2017, as
// torchvision's RandomErasing): area fraction in [scale_min, scale_max], aspect ratio drawn
// log-uniformly from [ratio_min, ratio_max], up to 10 tries to fit it in the image.
AugmentationPtr random_erasing(double p = 0.5, double scale_min = 0.02, double scale_max = 0.33,
                               double ratio_min = 0.3, double ratio_max = 3.3, double value = 0);
// Adds independent Gaussian noise of standard deviation `stddev` to every pixel, clipped to
// [low, high] (u8 pixels also round and saturate to [0, 255]): the corrupted inputs of a
// denoising autoencoder, fresh for every batch, with the clean images as targets. `stddev` is in
// the batch's units, like the other steps' values: 51 for u8 pixels is 0.2 on [0, 1].
AugmentationPtr gaussian_noise(double stddev, double low = -std::numeric_limits<double>::infinity(),
                               double high = std::numeric_limits<double>::infinity());
// (x - mean[c]) / std[c] per channel (one value each: all channels), in f32. Deterministic.
AugmentationPtr normalize(std::vector<double> mean, std::vector<double> std);
// Applies the steps in order.
AugmentationPtr compose(std::vector<AugmentationPtr> steps);

class Pipeline;  // nabla/pipeline.hpp: streaming data
class Stream;

struct DataLoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;
  bool drop_last = false;  // drop a last batch smaller than batch_size
  uint64_t seed = 0;       // with the epoch number, fixes the shuffle order
  bool prefetch = true;    // assemble the next batches on a background thread
  // Applied to each batch's inputs; null = none. (`= nullptr` keeps designated initializers
  // that leave it out free of -Wmissing-field-initializers.)
  AugmentationPtr augmentation = nullptr;
  // Data-parallel training (PyTorch's DistributedSampler): `shard_count` processes each take
  // their part of every batch of batch_size * shard_count samples drawn from the one epoch
  // order, this loader the part `shard_index` (0-based): contiguous, as even as the batch's size
  // allows, possibly empty in a short last batch. Together the shards see every sample once per
  // epoch, and batch k's union is batch k of one loader with batch_size * shard_count.
  int64_t shard_index = 0;
  int64_t shard_count = 1;
};

// Iterates a dataset in batches, one epoch at a time. Epoch e visits every sample once, in the
// order of a permutation seeded by (seed, e) when shuffling: epochs differ, runs repeat. Use
// either a range-for (each begin() starts the next epoch) or next():
//   for (auto& batch : loader) {...}            // epoch 0, then epoch 1 on the next loop, ...
//   while (auto batch = loader.next()) {...}    // nullopt ends the epoch; the next call starts
//                                               // the following one
// With prefetch, one background thread keeps up to two batches ready; batches are identical to
// those without prefetch. Errors raised while assembling a batch surface from next().
class DataLoader {
 public:
  DataLoader(std::shared_ptr<Dataset> dataset, DataLoaderOptions options = {});
  DataLoader(Tensor inputs, Tensor targets, DataLoaderOptions options = {});  // TensorDataset
  // The batches of a streaming pipeline (its elements, batched by the pipeline): epoch e is the
  // pipeline's iteration e, so its shuffles draw a new order every epoch. The options' batch
  // size, shuffle, augmentation and shards do not apply (the pipeline does that); prefetch()
  // belongs in the pipeline too. num_batches() is the pipeline's cardinality, -1 when unknown.
  explicit DataLoader(const Pipeline& batches);
  bool streaming() const { return stream_source_ != nullptr; }
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Batches per epoch (the last partial batch counts unless drop_last).
  int64_t num_batches() const;
  // Sharded: the samples batch `batch_index` holds across all shards (batch_size * shard_count,
  // less in a short last batch); this loader's part of them is its Batch's size().
  int64_t global_batch_size(int64_t batch_index) const;
  int64_t dataset_size() const { return dataset_ ? dataset_->size() : -1; }  // -1: streaming
  const DataLoaderOptions& options() const { return options_; }
  const std::shared_ptr<Dataset>& dataset() const { return dataset_; }

  // Starts epoch `epoch` now (dropping what is left of the current one), at batch `first_batch`
  // (a resumed run): the batches are those an uninterrupted epoch yields from there, since the
  // order and the augmentation draws depend on (seed, epoch, batch index) only.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);
  // The epoch in progress, or the last one finished; -1 before the first.
  int64_t epoch() const { return epoch_; }
  // Next batch of the current epoch; nullopt when it is over. Starts the next epoch when none is
  // in progress.
  std::optional<Batch> next();
  // The sample order of epoch `epoch` (identity when not shuffling).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    using pointer = Batch*;
    using reference = Batch&;
    Iterator() = default;
    explicit Iterator(DataLoader* loader);
    Batch& operator*() { return *current_; }
    Batch* operator->() { return &*current_; }
    Iterator& operator++();
    bool operator==(const Iterator& other) const { return done() == other.done(); }
    bool operator!=(const Iterator& other) const { return !(*this == other); }

   private:
    bool done() const { return !current_.has_value(); }
    DataLoader* loader_ = nullptr;
    std::optional<Batch> current_;
  };
  Iterator begin();  // starts the next epoch
  Iterator end() { return Iterator(); }

 private:
  struct Prefetcher;  // the background thread and its bounded queue (src/data/data_loader.cpp)
  Batch make_batch(int64_t batch_index) const;

  std::shared_ptr<Dataset> dataset_;
  DataLoaderOptions options_;
  int64_t epoch_ = -1;
  bool in_epoch_ = false;
  std::vector<int64_t> order_;
  int64_t next_batch_ = 0;  // next batch index handed out
  std::unique_ptr<Prefetcher> prefetcher_;
  std::shared_ptr<const Pipeline> stream_source_;  // streaming: the pipeline of batches
  std::unique_ptr<Stream> stream_;                 // streaming: the epoch's pass over it
};

// ---- IDX files (the MNIST format: big-endian header, unsigned-byte data) ----
// Reads an IDX file of unsigned bytes (magic 0x000008NN, NN = number of axes), plain or gzip
// (any file starting with the gzip signature). Returns a u8 tensor of the stored shape.
Tensor read_idx(const std::string& path);
// Writes a u8 tensor as IDX; gzip-compressed when `path` ends in ".gz". Via a temporary file.
void write_idx(const std::string& path, const Tensor& tensor);

// MNIST-layout data sets (MNIST, Fashion-MNIST, KMNIST).
struct MnistData {
  Tensor train_images;  // [60000, 28, 28]: f32 in [0, 1], or u8 when raw
  Tensor train_labels;  // [60000]: i64, or u8 when raw
  Tensor test_images;   // [10000, 28, 28]
  Tensor test_labels;   // [10000]
};

// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
// The ten class names of Fashion-MNIST, by label.
const std::vector<std::string>& fashion_mnist_classes();

// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte (each plain or with .gz) from `dir`. raw = true keeps the stored u8.
MnistData load_mnist(const std::string& dir, bool raw = false);
// load_mnist on `dir`, or on kFashionMnistDir when `dir` is empty.
MnistData load_fashion_mnist(const std::string& dir = "", bool raw = false);

// ---- CSV ----
struct CsvOptions {
  char delimiter = ',';
  // Whether the first line holds column names; nullopt: detected (a first line with any
  // non-numeric field is a header).
  std::optional<bool> header;
  DType dtype = DType::f32;  // f32 or f64 (i64 parses integers)
};
struct CsvTable {
  std::vector<std::string> columns;  // names from the header, else "0", "1", ...
  Tensor values;                     // [rows, columns]
  // The column named `name`; Error listing the columns when there is none.
  int64_t column_index(const std::string& name) const;
};
// Numeric CSV (empty lines skipped, fields may be quoted). Errors name the file, line and column.
CsvTable read_csv(const std::string& path, const CsvOptions& options = {});

// ---- transforms (not recorded by autograd; return new tensors) ----
// (x - mean) / std, as f32 (f64 stays f64).
Tensor normalize(const Tensor& x, double mean, double std);
// Per-channel normalization along `channel_axis` (e.g. 1 for [N, C, H, W]).
Tensor normalize(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& std,
                 int64_t channel_axis);
// x * factor converted to a floating dtype (u8 images: scale(x, 1.0 / 255)).
Tensor scale(const Tensor& x, double factor, DType dtype = DType::f32);

// ---- text (src/data/text.cpp, tokenizer.cpp, text_datasets.cpp) ----
// Reads a UTF-8 text file whole. Errors: a missing or empty file, or bytes that are not UTF-8
// (naming the file, the line, the byte offset and the byte's value).
std::string read_text_file(const std::string& path);

struct TokenizerOptions {
  std::string level = "word";  // "word" or "char" (one token per Unicode code point)
  int64_t max_vocab = 0;       // > 0: keep the most frequent tokens (ids 2 .. max_vocab - 1)
  int64_t min_count = 1;       // tokens seen fewer times map to the unknown id
  bool lowercase = false;
};
// Maps text to ids and back. Ids 0 and 1 are reserved: kPad ("<pad>") and kUnknown ("<unk>");
// the rest are the tokens of the texts given to fit(), by decreasing count (ties: first seen
// first). Words are runs of letters/digits/apostrophes (Unicode letters included); each other
// non-space character is a token of its own. Any byte sequence is accepted: a byte that is not
// valid UTF-8 is one unknown token.
class Tokenizer {
 public:
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kUnknown = 1;
  explicit Tokenizer(TokenizerOptions options = {});
  void fit(const std::vector<std::string>& texts);
  std::vector<std::string> split(const std::string& text) const;  // tokens, before the lookup
  std::vector<int64_t> encode(const std::string& text) const;
  // Joins tokens with spaces (words) or nothing (chars); pads are skipped.
  std::string decode(const std::vector<int64_t>& ids) const;
  int64_t vocab_size() const { return static_cast<int64_t>(tokens_.size()); }
  const std::vector<std::string>& vocabulary() const { return tokens_; }  // by id
  int64_t id(const std::string& token) const;                             // kUnknown when absent
  const TokenizerOptions& options() const { return options_; }
  // JSON text {"level", "lowercase", "max_vocab", "min_count", "vocabulary"}, for checkpoints;
  // from_json raises an Error naming what is wrong.
  std::string to_json() const;
  static Tokenizer from_json(const std::string& json);

 private:
  TokenizerOptions options_;
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t> ids_;
};

// Rows of ids padded with pad_id or truncated to `length` -> i64 [sequences.size(), length].
// pad_front / truncate_front as Keras's pad_sequences padding="pre" / truncating="pre" (the
// defaults here are "post" for both: right padding, which masks assume).
Tensor pad_sequences(const std::vector<std::vector<int64_t>>& sequences, int64_t length,
                     int64_t pad_id = Tokenizer::kPad, bool pad_front = false,
                     bool truncate_front = false);

// Labelled texts; labels index class_names.
struct TextClassificationData {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;
  std::vector<std::string> class_names;
};
// The fortunes of each file `dir`/<category> (Debian's fortunes packages: entries separated by
// lines holding only "%"); the label is the category's index. Empty entries are skipped; a
// category without entries is an Error.
TextClassificationData read_fortunes(const std::string& dir,
                                     const std::vector<std::string>& categories);
inline constexpr const char* kFortunesDir = "/usr/share/games/fortunes";

// Next-token windows over a token stream (language modelling): sample i is
// input ids[i*stride, i*stride + window) and target ids[i*stride + 1, i*stride + window + 1),
// both i64 [window]. Error when the stream is shorter than window + 1.
class SequenceWindowDataset : public Dataset {
 public:
  SequenceWindowDataset(Tensor ids, int64_t window, int64_t stride);
  int64_t size() const override;
  Example get(int64_t index) const override;
  Batch get_batch(const std::vector<int64_t>& indices) const override;

 private:
  Tensor ids_;  // 1-d i64
  int64_t window_, stride_;
};

// A generated sequence-to-sequence task on digit strings: each source is a string of digits of
// length drawn uniformly from [min_length, max_length]; the target is the string reversed
// ("reverse") or sorted ("sort"). Ids: 0 pad, 1 start, 2 end, 3 + digit. inputs i64
// [count, S + T] with S = max_length, T = max_length + 1: the source right-padded, then the decoder
// input (1, target..., padded); targets i64 [count, T]: target ids, 2, then padding 0 (use
// ignore_index 0). Seeded: a seed gives the same samples.
struct DigitTaskData {
  Tensor inputs;
  Tensor targets;
  int64_t source_length = 0;
  int64_t target_length = 0;
};
inline constexpr int64_t kDigitTaskVocab = 13;  // pad, start, end and ten digits
DigitTaskData make_digit_task(const std::string& task, int64_t count, int64_t min_length,
                              int64_t max_length, uint64_t seed);

// ---- text tasks (src/data/text_tasks.cpp): the data of a model spec's "data" section ----
struct TextTaskOptions {
  // "fortunes": classify fortunes by category; "corpus": next-character (or word) prediction on
  // a text file; "digits": a generated digit-string seq2seq task (make_digit_task);
  // "image_folder": images by class folder (load_image_folder); "tfrecord": TFRecord shards
  // (load_tfrecord_data).
  std::string type;
  std::vector<std::string> categories;  // fortunes: the files (labels, in order)
  std::string corpus = "kjv";           // corpus: file <dir>/<corpus>.txt
  std::string level = "word";           // tokenizer level (fortunes, corpus)
  int64_t max_vocab = 0;                // tokenizer cap (0: every token seen)
  bool lowercase = false;
  int64_t sequence_length = 64;  // fortunes: padded/truncated length; corpus: window length
  double test_fraction = 0.1;    // held out (the last part of a corpus; a shuffled part otherwise)
  std::string task = "reverse";  // digits: "reverse" or "sort"
  int64_t min_length = 1;        // digits: source lengths
  int64_t max_length = 10;
  int64_t train_samples = 50000;  // digits
  int64_t test_samples = 2000;    // digits
  uint64_t seed = 0;              // the split and the generated samples
  // "image_folder" (an image classification task on a folder of class folders, src/tasks/
  // image_folder.cpp; the images' size and channels are the model's input shape) and "tfrecord"
  // (TFRecord shards, src/tasks/tfrecord.cpp): bad images or records are skipped with a warning
  // instead of being an Error. test_fraction and seed split them.
  bool skip_bad_records = false;
  // "tfrecord": the features of a sample (data::TFRecordFeatureSpec): "image" (encoded image
  // bytes) or "floats" (a float list), the input feature's name and the int64 label's.
  std::string input_kind = "image";
  std::string input_feature = "image";
  std::string label_feature = "label";
  // "tfrecord": the training part streamed through a data::Pipeline while training (read,
  // decoded, shuffled in a buffer, batched) instead of loaded; the test part is loaded.
  bool stream = false;
};
struct TextTaskData {
  Tensor train_inputs, train_targets, test_inputs, test_targets;
  std::vector<std::string> class_names;  // fortunes: the categories
  std::string tokenizer_json;            // fortunes and corpus: Tokenizer::to_json()
  std::string source;                    // where the data came from, for messages
};
// Default folders: fortunes in kFortunesDir; corpora in $NABLA_DATA_DIR, else
// $XDG_CACHE_HOME/nabla, else ~/.cache/nabla (scripts/prepare-corpora.sh writes kjv.txt there).
std::string default_corpus_dir();
// Loads (dir "" = the default folder) and tokenizes the task's data; the tokenizer is fitted on
// the training part only. Errors name the missing file and how to get it.
TextTaskData load_text_task(const TextTaskOptions& options, const std::string& dir = "");

struct Split {
  Tensor train_inputs, train_targets;
  Tensor validation_inputs, validation_targets;
};
// Holds out round(fraction * N) samples for validation (0 <= fraction < 1). shuffle: the samples
// are permuted with `seed` first; otherwise the last samples are held out, as Keras's
// validation_split does. targets may be undefined.
Split train_validation_split(const Tensor& inputs, const Tensor& targets, double fraction,
                             uint64_t seed = 0, bool shuffle = true);

// An image file as u8: PNG (grey, RGB; palettes expanded, 16 bits reduced, alpha dropped), JPEG
// (through libjpeg-turbo; grey or colour, CMYK refused) or binary PGM (P5). Grey images are
// [H, W], colour ones [3, H, W] (channels first). Errors name the file and what is wrong; a
// header claiming more than 2^28 pixels is rejected before reading, and a truncated or corrupt
// file is an Error (not an image half grey).
Tensor read_image(const std::string& path);

// ---- writing images (src/data/png_write.cpp) ----
// Writes `image` as an 8-bit PNG through libpng: [H, W] (grey) or [C, H, W] with C = 1 (grey),
// 3 (RGB) or 4 (RGBA), channels first as read_image returns them. u8 pixels are written as they
// are; f32/f64 values must lie in [0, 1] and are scaled to 0..255 (rounded to nearest). Written
// atomically (write_file_atomic). Errors name the file and the expected shape and dtype.
void write_png(const std::string& path, const Tensor& image);

// Tiles images [N, C, H, W] or [N, H, W] into one u8 image (torchvision's make_grid): `columns`
// images per row, `padding` pixels of `pad_value` around and between them. The result is
// [C, rows * (H + padding) + padding, columns * (W + padding) + padding], or [H', W'] for
// [N, H, W]; floating images are scaled from [0, 1] as write_png does. Ready for write_png and
// SummaryWriter::add_image; labels are left to the caller (no font is drawn).
Tensor image_grid(const Tensor& images, int64_t columns = 8, int64_t padding = 2,
                  uint8_t pad_value = 0);

// ---- TFRecord files (src/data/tfrecord.cpp) ----
// The records of a TFRecord file (TensorFlow's framing, used by TensorBoard's event files): each
// record is a little-endian uint64 length, the masked CRC-32C of those 8 bytes, the data, and the
// masked CRC-32C of the data. Both checksums are verified; a bad checksum or a truncated record
// is an Error naming the file and the record's byte offset.
std::vector<std::string> read_tfrecords(const std::string& path);

// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk, then
// renamed over `path`, so that a crash or a full disk never leaves `path` half-written. `what`
// names the caller in errors ("metrics", "model spec").
void write_file_atomic(const std::string& path, const std::string& bytes, const std::string& what);

// ---- image folders (src/data/image_decode.cpp, image_resize.cpp, image_folder.cpp) ----
// A PNG or JPEG file's bytes decoded as read_image does; `name` (the file, or a record) starts
// the errors.
Tensor decode_image(const std::string& bytes, const std::string& name);

// u8 image [H, W] or [C, H, W] resized to height x width with PIL's Image.resize(BILINEAR): a
// triangle filter whose support widens by the scale factor when shrinking (antialiasing), the
// horizontal pass first, each pass in PIL's 22-bit fixed point and rounded to u8, so that the
// result matches PIL's pixel for pixel. The same size returns the image as it is.
Tensor resize_image(const Tensor& image, int64_t height, int64_t width);
// u8 image [H, W] or [C, H, W] (C = 1 or 3) as `channels` channels, [channels, H, W]: grey to
// RGB repeats the channel, RGB to grey is PIL's convert("L") (ITU-R 601-2 luma,
// (19595 R + 38470 G + 7471 B + 2^15) >> 16).
Tensor convert_channels(const Tensor& image, int64_t channels);

struct ImageFolderOptions {
  int64_t height = 0, width = 0;  // the size every image is resized to (> 0)
  int64_t channels = 3;           // 1 (grayscale) or 3 (RGB)
  // A folder of class folders only: the fraction of each class's images held out as the test
  // part, chosen with `seed` (Keras's validation_split and seed). Ignored for train/ and test/.
  double test_fraction = 0.2;
  uint64_t seed = 0;
  // Bad images (corrupt, truncated, not an image) are skipped with a warning each on `warnings`
  // (null: std::cerr) and counted, instead of being an Error.
  bool skip_bad_records = false;
  std::ostream* warnings = nullptr;
};

struct ImageFolderData {
  Tensor train_images, test_images;  // u8 [N, channels, height, width]
  Tensor train_labels, test_labels;  // i64 [N], indices into class_names
  std::vector<std::string> class_names;
  std::vector<std::string> train_files, test_files;  // the file of each sample
  int64_t skipped = 0;                               // bad images skipped
};

// Whether `dir` is an image folder: sub-folders only (hidden entries aside), either train/ and
// test/ of class folders, or class folders. (An IDX folder holds files.)
bool is_image_folder(const std::string& dir);
// The class names of an image folder: its sub-folders (those of train/), sorted by name (byte
// order, as torchvision's ImageFolder and Keras sort them); label i is class_names[i].
std::vector<std::string> image_folder_classes(const std::string& dir);
// Reads every image of an image folder (DIR/CLASS/FILE, or DIR/train/CLASS/FILE and
// DIR/test/CLASS/FILE with the same classes), files in name order, decoded, converted to
// `channels` and resized. Errors (one, naming the file): a file that is not a PNG or JPEG
// image, a corrupt or truncated one (unless skip_bad_records), an empty class folder, test/
// classes that differ from train/'s, a split that leaves a part empty.
ImageFolderData load_image_folder(const std::string& dir, const ImageFolderOptions& options);

// ---- tf.train.Example records and TFRecord data sets (src/data/tf_example.cpp,
// tfrecord_dataset.cpp) ----
// One feature of a tf.train.Example: a list of byte strings, of floats or of int64s.
struct Feature {
  enum class Kind { bytes, floats, int64s };
  Kind kind = Kind::int64s;
  std::vector<std::string> bytes;
  std::vector<float> floats;
  std::vector<int64_t> int64s;
};
using Features = std::map<std::string, Feature>;
Feature bytes_feature(std::vector<std::string> values);
Feature float_feature(std::vector<float> values);
Feature int64_feature(std::vector<int64_t> values);
// "bytes_list", "float_list" or "int64_list", as TensorFlow names them.
const char* feature_kind_name(Feature::Kind kind);
// A tf.train.Example serialized by libprotobuf (data/tf_example.proto: TensorFlow's field numbers),
// map entries in key order so that the same features always give the same bytes.
std::string encode_example(const Features& features);
// The features of a serialized Example; Error starting with `where` when it is not one.
Features decode_example(std::string_view bytes, const std::string& where);
// Writes `records` as a TFRecord file, gzip-compressed (TensorFlow's compression_type="GZIP")
// when `path` ends in ".gz"; atomically. read_tfrecords reads both.
void write_tfrecords(const std::string& path, const std::vector<std::string>& records);

// Which features make a sample: `input` an encoded image (kind "image": PNG or JPEG bytes,
// decoded, converted to input_shape[0] channels and resized to input_shape[1:] as an image
// folder's images) or a float list (kind "floats": input_shape's element count of them), `label`
// an int64 class number, and `class_name` (optional) the class's name as bytes.
struct TFRecordFeatureSpec {
  std::string kind = "image";
  std::string input = "image";
  std::string label = "label";
  std::string class_name = "class_name";
  Shape input_shape;
};
struct TFRecordOptions {
  TFRecordFeatureSpec features;
  // Without shards named train* and test*: the fraction of the records held out as the test part,
  // drawn with `seed`.
  double test_fraction = 0.2;
  uint64_t seed = 0;
  // Bad records (a feature missing or of the wrong type, an image that does not decode) are
  // skipped with a warning each on `warnings` (null: std::cerr) instead of being an Error.
  // Framing errors (a bad CRC, a truncated record) are always an Error.
  bool skip_bad_records = false;
  std::ostream* warnings = nullptr;
};
struct TFRecordData {
  Tensor train_inputs, test_inputs;      // u8 [N, C, H, W] (images) or f32 [N, input_shape...]
  Tensor train_labels, test_labels;      // i64 [N]
  std::vector<std::string> class_names;  // from class_name features, else the numbers
  int64_t skipped = 0;
};
// The TFRecord files of `pattern`: a file, a folder (its files whose names hold ".tfrecord" or
// ".tfrec"), a glob in one folder ("data/shard-*.tfrecord"), or a comma-separated list of those
// (a path holding commas that exists is taken as it is), sorted by name.
std::vector<std::string> tfrecord_files(const std::string& pattern);
// Whether `pattern` names TFRecord data (such a file, a folder holding some, or a glob of them).
bool is_tfrecord_data(const std::string& pattern);
// Reads every record of the files. Errors name the file, the record number and the feature.
TFRecordData load_tfrecord_data(const std::string& pattern, const TFRecordOptions& options);
// The files of an image folder without reading them: load_image_folder's split (the training
// files in class and name order here), for tools that copy the files as they are.
struct ImageFolderFiles {
  std::vector<std::string> train_files, test_files;
  std::vector<int64_t> train_labels, test_labels;
  std::vector<std::string> class_names;
};
ImageFolderFiles list_image_folder(const std::string& dir, double test_fraction, uint64_t seed);

// nabla convert (src/data/tfrecord_convert.cpp). To TFRecord: `source` (an MNIST-layout IDX
// folder, an image folder or a CSV file) as OUT/train-0000i-of-0000N.tfrecord and test-...
// shards (".tfrecord.gz" with gzip): IDX images as PNG "image" records, an image folder's files
// as they are, CSV rows as a "features" float list with the `label_column` (default: the last)
// as "label"; "class_name" where classes have names. Back: TFRecord data to OUT as `format`
// "folder" (OUT/train/CLASS/NNNNNN.png|jpg, the image bytes as stored), "idx" (the four MNIST
// files; grey images of one size) or "csv" (OUT/train.csv and test.csv, the floats then the
// label).
struct TFRecordConvertOptions {
  int64_t shards = 1;  // per part
  bool gzip = false;
  double test_fraction = 0.2;  // image folders of class folders and CSV files: held out
  uint64_t seed = 0;
  std::string label_column;
};
struct ConvertReport {
  std::string kind;  // what was read or written: "IDX folder", "image folder", "CSV file", ...
  int64_t train_records = 0, test_records = 0;
  std::vector<std::string> files;  // written
};
ConvertReport convert_to_tfrecord(const std::string& source, const std::string& out_dir,
                                  const TFRecordConvertOptions& options);
ConvertReport convert_from_tfrecord(const std::string& pattern, const std::string& out_dir,
                                    const std::string& format);

}  // namespace nabla::data
