// nabla convert's work: a data set (an MNIST-layout IDX folder, an image folder, a CSV file)
// written as shards of tf.train.Example records, and TFRecord data written back as an image
// folder, IDX files or CSV files. Records: "image" (PNG or JPEG bytes) or "features" (a float
// list), "label" (int64) and, where the classes have names, "class_name" (bytes).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/file_util.hpp"
#include "data/png.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace {

namespace fs = std::filesystem;

bool convert_is_csv(const std::string& path) {
  std::string lower = path;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.ends_with(".csv") || lower.ends_with(".csv.gz");
}

// OUT/PART-0000i-of-0000N.tfrecord[.gz], the records split in `shards` runs of equal size.
std::vector<std::string> write_shards(const std::string& out_dir, const std::string& part,
                                      const std::vector<std::string>& records,
                                      const TFRecordConvertOptions& options) {
  const int64_t shards =
      std::max<int64_t>(1, std::min<int64_t>(options.shards, static_cast<int64_t>(records.size())));
  std::vector<std::string> files;
  const auto n = static_cast<int64_t>(records.size());
  for (int64_t s = 0; s < shards; ++s) {
    char name[64];
    std::snprintf(name, sizeof(name), "%s-%05lld-of-%05lld.tfrecord%s", part.c_str(),
                  static_cast<long long>(s), static_cast<long long>(shards),
                  options.gzip ? ".gz" : "");
    const std::vector<std::string> shard(records.begin() + s * n / shards,
                                         records.begin() + (s + 1) * n / shards);
    files.push_back((fs::path(out_dir) / name).string());
    write_tfrecords(files.back(), shard);
  }
  return files;
}

std::string image_record(std::string image_bytes, int64_t label,
                         const std::vector<std::string>& class_names) {
  Features features = {{"image", bytes_feature({std::move(image_bytes)})},
                       {"label", int64_feature({label})}};
  if (label < static_cast<int64_t>(class_names.size())) {
    features["class_name"] = bytes_feature({class_names[static_cast<size_t>(label)]});
  }
  return encode_example(features);
}

// IDX images [N, H, W] u8 as PNG records.
std::vector<std::string> idx_records(const Tensor& images, const Tensor& labels,
                                     const std::vector<std::string>& class_names) {
  const std::vector<int64_t> y = labels.to(DType::i64).to_vector<int64_t>();
  std::vector<std::string> records(y.size());
  const auto n = static_cast<int64_t>(y.size());
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < n; ++i) {
    records[static_cast<size_t>(i)] =
        image_record(internal::encode_png(images.select(0, i), "convert"),
                     y[static_cast<size_t>(i)], class_names);
  }
  return records;
}

std::vector<std::string> file_records(const std::vector<std::string>& files,
                                      const std::vector<int64_t>& labels,
                                      const std::vector<std::string>& class_names) {
  std::vector<std::string> records;
  for (size_t i = 0; i < files.size(); ++i) {
    records.push_back(
        image_record(internal::read_file(files[i], "convert"), labels[i], class_names));
  }
  return records;
}

std::string extension_of_image(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
                 static_cast<unsigned char>(bytes[1]) == 0xD8
             ? ".jpg"
             : ".png";
}

// A folder name for a class: its name with '/' and NUL replaced, never "." or "..".
std::string class_folder_name(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (c == '/' || c == '\0') c = '_';
  }
  return out.empty() || out == "." || out == ".." ? "_" + out : out;
}

}  // namespace

ConvertReport convert_to_tfrecord(const std::string& source, const std::string& out_dir,
                                  const TFRecordConvertOptions& options) {
  NABLA_CHECK(options.shards >= 1, "convert: expected at least 1 shard, got ", options.shards);
  std::vector<std::string> train, test;
  ConvertReport report;
  if (convert_is_csv(source)) {
    const CsvTable table = read_csv(source);
    const int64_t label = options.label_column.empty()
                              ? static_cast<int64_t>(table.columns.size()) - 1
                              : table.column_index(options.label_column);
    NABLA_CHECK(table.columns.size() >= 2, "convert: ", source, ": expected feature columns and a ",
                "label column, got ", table.columns.size(), " column(s)");
    const Tensor values = table.values.to(DType::f64);
    const int64_t rows = values.size(0), cols = values.size(1);
    const std::vector<double> v = values.contiguous().to_vector<double>();
    std::vector<std::string> records;
    for (int64_t r = 0; r < rows; ++r) {
      std::vector<float> features;
      for (int64_t c = 0; c < cols; ++c) {
        if (c != label) features.push_back(static_cast<float>(v[r * cols + c]));
      }
      const double y = v[r * cols + label];
      NABLA_CHECK(y >= 0 && y == static_cast<double>(static_cast<int64_t>(y)), "convert: ", source,
                  ": row ", r + 1, ": the label column ", table.columns[label],
                  " should hold class numbers (integers >= 0), got ", y);
      records.push_back(encode_example({{"features", float_feature(features)},
                                        {"label", int64_feature({static_cast<int64_t>(y)})}}));
    }
    Generator gen(options.seed);
    const std::vector<int64_t> order = randperm(rows, &gen).to_vector<int64_t>();
    const auto held_out =
        static_cast<int64_t>(std::llround(options.test_fraction * static_cast<double>(rows)));
    std::vector<bool> is_test(static_cast<size_t>(rows), false);
    for (int64_t i = 0; i < held_out; ++i) is_test[static_cast<size_t>(order[i])] = true;
    for (int64_t r = 0; r < rows; ++r) {
      (is_test[static_cast<size_t>(r)] ? test : train).push_back(std::move(records[r]));
    }
    report.kind = "CSV file";
  } else if (is_image_folder(source)) {
    ImageFolderFiles files = list_image_folder(source, options.test_fraction, options.seed);
    // The training records in an order drawn with the seed, not class by class, so that the
    // first records of the shards (--limit) hold every class, as load_image_folder orders them.
    Generator gen(options.seed);
    std::vector<std::string> shuffled_files;
    std::vector<int64_t> shuffled_labels;
    for (int64_t i :
         randperm(static_cast<int64_t>(files.train_files.size()), &gen).to_vector<int64_t>()) {
      shuffled_files.push_back(files.train_files[static_cast<size_t>(i)]);
      shuffled_labels.push_back(files.train_labels[static_cast<size_t>(i)]);
    }
    train = file_records(shuffled_files, shuffled_labels, files.class_names);
    test = file_records(files.test_files, files.test_labels, files.class_names);
    report.kind = "image folder";
  } else {
    const MnistData mnist = load_mnist(source, true);
    std::string lower = source;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::vector<std::string> names = lower.find("fashion") != std::string::npos
                                               ? fashion_mnist_classes()
                                               : std::vector<std::string>{};
    train = idx_records(mnist.train_images, mnist.train_labels, names);
    test = idx_records(mnist.test_images, mnist.test_labels, names);
    report.kind = "IDX folder";
  }
  NABLA_CHECK(!train.empty() && !test.empty(), "convert: ", source, ": the ",
              train.empty() ? "training" : "test", " part holds no samples");
  std::error_code error;
  fs::create_directories(out_dir, error);
  NABLA_CHECK(!error && fs::is_directory(out_dir), "convert: cannot create the folder ", out_dir,
              error ? ": " + error.message() : std::string());
  report.train_records = static_cast<int64_t>(train.size());
  report.test_records = static_cast<int64_t>(test.size());
  for (const char* part : {"train", "test"}) {
    for (std::string& file : write_shards(out_dir, part, part[1] == 'r' ? train : test, options)) {
      report.files.push_back(std::move(file));
    }
  }
  return report;
}

ConvertReport convert_from_tfrecord(const std::string& pattern, const std::string& out_dir,
                                    const std::string& format) {
  NABLA_CHECK(format == "folder" || format == "idx" || format == "csv", "convert: expected the ",
              "format folder, idx or csv, got '", format, "'");
  ConvertReport report;
  report.kind = format;
  std::error_code error;
  fs::create_directories(out_dir, error);
  NABLA_CHECK(!error && fs::is_directory(out_dir), "convert: cannot create the folder ", out_dir,
              error ? ": " + error.message() : std::string());
  // Per part: the input feature's bytes or floats, the labels and the class names seen.
  for (const char* part : {"train", "test"}) {
    std::vector<std::string> images;
    std::vector<std::vector<float>> rows;
    std::vector<int64_t> labels;
    std::vector<std::string> names;
    for (const std::string& file : tfrecord_files(pattern)) {
      if (!fs::path(file).filename().string().starts_with(part)) continue;
      const std::vector<std::string> records = read_tfrecords(file);
      for (size_t i = 0; i < records.size(); ++i) {
        const std::string where = file + ": record " + std::to_string(i);
        const Features features = decode_example(records[i], where);
        const auto label = features.find("label");
        NABLA_CHECK(label != features.end() && label->second.kind == Feature::Kind::int64s &&
                        label->second.int64s.size() == 1 && label->second.int64s[0] >= 0,
                    where, ": feature 'label' should be an int64_list of one class number");
        labels.push_back(label->second.int64s[0]);
        const auto name = features.find("class_name");
        if (name != features.end() && name->second.kind == Feature::Kind::bytes &&
            name->second.bytes.size() == 1) {
          if (static_cast<int64_t>(names.size()) <= labels.back()) names.resize(labels.back() + 1);
          names[static_cast<size_t>(labels.back())] = name->second.bytes[0];
        }
        const bool want_image = format != "csv";
        const char* input = want_image ? "image" : "features";
        const auto it = features.find(input);
        NABLA_CHECK(it != features.end(), where, ": feature '", input, "' is missing (", format,
                    want_image ? " needs image records)" : " needs float-list records)");
        NABLA_CHECK(
            it->second.kind == (want_image ? Feature::Kind::bytes : Feature::Kind::floats) &&
                (!want_image || it->second.bytes.size() == 1),
            where, ": feature '", input, "' is a ", feature_kind_name(it->second.kind),
            want_image ? " (expected a bytes_list of one encoded image)"
                       : " (expected a float_list)");
        if (want_image) {
          images.push_back(it->second.bytes[0]);
        } else {
          rows.push_back(it->second.floats);
        }
      }
    }
    NABLA_CHECK(!labels.empty(), "convert: ", pattern, ": no records in files named ", part,
                "* (nabla convert writes train-* and test-* shards)");
    (part[1] == 'r' ? report.train_records : report.test_records) =
        static_cast<int64_t>(labels.size());
    const auto class_name = [&](int64_t label) {
      return label < static_cast<int64_t>(names.size()) && !names[label].empty()
                 ? class_folder_name(names[label])
                 : std::to_string(label);
    };
    if (format == "folder") {
      // Thousands of small files: written plainly into a staging folder beside the part's, which
      // is renamed into place once complete (one rename instead of an fsync per picture), so
      // that OUT/PART is never half there.
      const fs::path target = fs::path(out_dir) / part;
      NABLA_CHECK(!fs::exists(target, error), "convert: ", target.string(), " exists already; ",
                  "write to a new folder");
      const fs::path staging = fs::path(out_dir) / (".nabla-convert-" + std::string(part));
      fs::remove_all(staging, error);
      for (size_t i = 0; i < images.size(); ++i) {
        const fs::path dir = staging / class_name(labels[i]);
        fs::create_directories(dir);
        char name[32];
        std::snprintf(name, sizeof(name), "%06zu", i);
        const fs::path path = dir / (name + extension_of_image(images[i]));
        std::ofstream out(path, std::ios::binary);
        out.write(images[i].data(), static_cast<std::streamsize>(images[i].size()));
        NABLA_CHECK(out.good(), "convert: cannot write ", path.string(), ": ",
                    internal::errno_message());
      }
      fs::rename(staging, target, error);
      NABLA_CHECK(!error, "convert: cannot move ", staging.string(), " to ", target.string(), ": ",
                  error.message());
      report.files.push_back(target.string());
    } else if (format == "idx") {
      std::vector<Tensor> decoded;
      for (size_t i = 0; i < images.size(); ++i) {
        const Tensor image =
            decode_image(images[i], pattern + ": " + part + " image " + std::to_string(i));
        NABLA_CHECK(image.dim() == 2 && (decoded.empty() || image.shape() == decoded[0].shape()),
                    "convert --format idx: ", part, " image ", i, " is ", image.shape(),
                    "; IDX files hold grey images of one size (the first is ",
                    decoded.empty() ? image.shape() : decoded[0].shape(), ")");
        decoded.push_back(image);
      }
      const int64_t h = decoded[0].size(0), w = decoded[0].size(1);
      Tensor stacked = empty({static_cast<int64_t>(decoded.size()), h, w}, DType::u8);
      for (size_t i = 0; i < decoded.size(); ++i) {
        std::copy_n(decoded[i].data<uint8_t>(), h * w, stacked.data<uint8_t>() + i * h * w);
      }
      std::vector<uint8_t> label_bytes;
      for (int64_t label : labels) {
        NABLA_CHECK(label < 256, "convert --format idx: label ", label,
                    " does not fit IDX's unsigned bytes");
        label_bytes.push_back(static_cast<uint8_t>(label));
      }
      const std::string prefix = part[1] == 'r' ? "train" : "t10k";
      const std::string images_file =
          (fs::path(out_dir) / (prefix + "-images-idx3-ubyte")).string();
      const std::string labels_file =
          (fs::path(out_dir) / (prefix + "-labels-idx1-ubyte")).string();
      write_idx(images_file, stacked);
      write_idx(labels_file, from_vector(label_bytes));
      report.files.push_back(images_file);
      report.files.push_back(labels_file);
    } else {
      std::string text;
      const size_t width = rows.front().size();
      for (size_t c = 0; c < width; ++c) text += "f" + std::to_string(c) + ",";
      text += "label\n";
      for (size_t r = 0; r < rows.size(); ++r) {
        NABLA_CHECK(rows[r].size() == width, "convert --format csv: ", part, " record ", r,
                    " holds ", rows[r].size(), " floats, the first ", width);
        for (float v : rows[r]) {
          char number[32];
          std::snprintf(number, sizeof(number), "%.9g,", static_cast<double>(v));
          text += number;
        }
        text += std::to_string(labels[r]) + "\n";
      }
      const std::string file = (fs::path(out_dir) / (std::string(part) + ".csv")).string();
      write_file_atomic(file, text, "convert");
      report.files.push_back(file);
    }
  }
  return report;
}

}  // namespace nabla::data
