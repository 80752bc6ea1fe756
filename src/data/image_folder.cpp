// Image folders (torchvision's ImageFolder, Keras's image_dataset_from_directory): one folder per
// class, the files decoded by content (PNG or JPEG, whatever their names), converted to the
// wanted channels and resized as PIL does. Files are decoded on the OpenMP threads; errors are
// reported for the first bad file in name order, so the message does not depend on the threads.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <set>

#include "nabla/data.hpp"

namespace nabla::data {
namespace {

namespace fs = std::filesystem;

// Names starting with '.' (.DS_Store, .git, editors' files) are not data.
bool is_hidden_entry(const fs::path& path) { return path.filename().string().starts_with("."); }

// The visible entries of a folder, sorted by name.
std::vector<fs::path> image_folder_entries(const fs::path& dir) {
  std::error_code error;
  std::vector<fs::path> entries;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (!is_hidden_entry(entry.path())) entries.push_back(entry.path());
  }
  NABLA_CHECK(!error, "image folder ", dir.string(), ": cannot list it: ", error.message());
  std::sort(entries.begin(), entries.end());
  return entries;
}

bool all_folders(const std::vector<fs::path>& entries) {
  return !entries.empty() && std::all_of(entries.begin(), entries.end(),
                                         [](const fs::path& p) { return fs::is_directory(p); });
}

// DIR/train and DIR/test when DIR holds exactly those two folders; else DIR alone.
bool has_train_test_folders(const fs::path& dir) {
  const std::vector<fs::path> entries = image_folder_entries(dir);
  return entries.size() == 2 && entries[0].filename() == "test" &&
         entries[1].filename() == "train" && all_folders(entries);
}

struct ImageFile {
  std::string path;
  int64_t label = 0;
};

// Every visible file under each class folder (sub-folders included), in path order. An empty
// class folder is an Error naming it.
std::vector<ImageFile> class_files(const fs::path& dir, const std::vector<std::string>& classes) {
  std::vector<ImageFile> files;
  for (size_t label = 0; label < classes.size(); ++label) {
    const fs::path class_dir = dir / classes[label];
    std::vector<std::string> paths;
    std::error_code error;
    for (auto it = fs::recursive_directory_iterator(class_dir, error);
         !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      if (is_hidden_entry(it->path())) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_directory()) paths.push_back(it->path().string());
    }
    NABLA_CHECK(!error, "image folder ", class_dir.string(), ": cannot list it: ", error.message());
    NABLA_CHECK(!paths.empty(), "image folder ", dir.string(), ": the class folder ",
                class_dir.string(), " holds no files; every class needs images (remove the ",
                "folder, or add its images)");
    std::sort(paths.begin(), paths.end());
    for (std::string& path : paths) files.push_back({std::move(path), static_cast<int64_t>(label)});
  }
  return files;
}

std::vector<std::string> class_folder_names(const fs::path& dir) {
  NABLA_CHECK(fs::is_directory(dir), "image folder ", dir.string(), ": not a folder");
  const std::vector<fs::path> entries = image_folder_entries(dir);
  NABLA_CHECK(!entries.empty(), "image folder ", dir.string(), ": it is empty; expected one ",
              "folder of images per class");
  std::vector<std::string> names;
  for (const fs::path& entry : entries) {
    NABLA_CHECK(fs::is_directory(entry), "image folder ", dir.string(), ": ",
                entry.filename().string(), " is a file; expected only class folders (one ",
                "folder of images per class), or train/ and test/ folders of them");
    names.push_back(entry.filename().string());
  }
  return names;
}

// Each class's files split by `seed`: round(fraction * n) of them, drawn at random, held out.
void split_image_files(const std::vector<ImageFile>& files, double fraction, uint64_t seed,
                       std::vector<ImageFile>& train, std::vector<ImageFile>& test) {
  Generator gen(seed);
  size_t start = 0;
  while (start < files.size()) {
    size_t end = start;
    while (end < files.size() && files[end].label == files[start].label) ++end;
    const auto count = static_cast<int64_t>(end - start);
    const auto held_out = static_cast<int64_t>(std::llround(fraction * static_cast<double>(count)));
    const std::vector<int64_t> order = randperm(count, &gen).to_vector<int64_t>();
    std::vector<bool> is_test(static_cast<size_t>(count), false);
    for (int64_t i = 0; i < held_out; ++i) is_test[static_cast<size_t>(order[i])] = true;
    for (int64_t i = 0; i < count; ++i) {
      (is_test[static_cast<size_t>(i)] ? test : train).push_back(files[start + i]);
    }
    start = end;
  }
}

// One image decoded, converted and resized, or the reason it could not be.
struct DecodedImage {
  Tensor pixels;
  std::string error;
};

DecodedImage decode_image_file(const std::string& path, const ImageFolderOptions& options) {
  DecodedImage out;
  try {
    out.pixels = resize_image(convert_channels(read_image(path), options.channels), options.height,
                              options.width);
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

// The images of `files` stacked [N, C, H, W] with their labels; bad files are an Error, or
// skipped with a warning each when options.skip_bad_records.
void stack_image_files(const std::vector<ImageFile>& files, const ImageFolderOptions& options,
                       Tensor& images, Tensor& labels, std::vector<std::string>& kept,
                       int64_t& skipped) {
  const auto count = static_cast<int64_t>(files.size());
  std::vector<DecodedImage> decoded(files.size());
#pragma omp parallel for schedule(dynamic, 4)
  for (int64_t i = 0; i < count; ++i) {
    decoded[static_cast<size_t>(i)] =
        decode_image_file(files[static_cast<size_t>(i)].path, options);
  }
  std::ostream& warnings = options.warnings != nullptr ? *options.warnings : std::cerr;
  const int64_t plane = options.channels * options.height * options.width;
  std::vector<uint8_t> pixels;
  std::vector<int64_t> targets;
  for (size_t i = 0; i < files.size(); ++i) {
    if (!decoded[i].error.empty()) {
      NABLA_CHECK(options.skip_bad_records, "image folder: ", decoded[i].error,
                  " (--skip-bad-records skips bad images with a warning)");
      warnings << "nabla: warning: skipping a bad image: " << decoded[i].error << "\n";
      ++skipped;
      continue;
    }
    const std::vector<uint8_t> values = decoded[i].pixels.to_vector<uint8_t>();
    pixels.insert(pixels.end(), values.begin(), values.end());
    targets.push_back(files[i].label);
    kept.push_back(files[i].path);
  }
  const auto n = static_cast<int64_t>(targets.size());
  images =
      from_vector(pixels, {n * plane}).view({n, options.channels, options.height, options.width});
  labels = from_vector(targets, {n});
}

// "[a, b, c]", at most ten names.
std::string image_folder_list(const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < names.size() && i < 10; ++i) out += (i ? ", " : "") + names[i];
  return out + (names.size() > 10 ? ", ...]" : "]");
}

}  // namespace

bool is_image_folder(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error)) return false;
  return all_folders(image_folder_entries(dir));
}

std::vector<std::string> image_folder_classes(const std::string& dir) {
  return class_folder_names(has_train_test_folders(dir) ? fs::path(dir) / "train" : fs::path(dir));
}

ImageFolderFiles list_image_folder(const std::string& dir, double test_fraction, uint64_t seed) {
  ImageFolderFiles out;
  out.class_names = image_folder_classes(dir);
  std::vector<ImageFile> train, test;
  if (has_train_test_folders(dir)) {
    const fs::path test_dir = fs::path(dir) / "test";
    const std::vector<std::string> test_classes = class_folder_names(test_dir);
    NABLA_CHECK(test_classes == out.class_names, "image folder ", dir, ": test/ holds the ",
                "class folders ", image_folder_list(test_classes), ", train/ ",
                image_folder_list(out.class_names), "; both need the same class folders");
    train = class_files(fs::path(dir) / "train", out.class_names);
    test = class_files(test_dir, out.class_names);
  } else {
    NABLA_CHECK(test_fraction > 0 && test_fraction < 1, "image folder ", dir,
                ": expected a test fraction in (0, 1), got ", test_fraction);
    split_image_files(class_files(dir, out.class_names), test_fraction, seed, train, test);
  }
  for (const ImageFile& file : train) {
    out.train_files.push_back(file.path);
    out.train_labels.push_back(file.label);
  }
  for (const ImageFile& file : test) {
    out.test_files.push_back(file.path);
    out.test_labels.push_back(file.label);
  }
  return out;
}

ImageFolderData load_image_folder(const std::string& dir, const ImageFolderOptions& options) {
  NABLA_CHECK(options.height > 0 && options.width > 0, "load_image_folder: expected an image ",
              "size > 0, got ", options.height, "x", options.width);
  NABLA_CHECK(options.channels == 1 || options.channels == 3, "load_image_folder: expected 1 ",
              "(grayscale) or 3 (RGB) channels, got ", options.channels);
  const ImageFolderFiles files = list_image_folder(dir, options.test_fraction, options.seed);
  ImageFolderData out;
  out.class_names = files.class_names;
  // The training part in an order drawn with the seed, so that its first N samples (--limit)
  // hold every class; the test part stays in class and file order.
  Generator gen(options.seed);
  const std::vector<int64_t> order =
      randperm(static_cast<int64_t>(files.train_files.size()), &gen).to_vector<int64_t>();
  std::vector<ImageFile> train, test;
  for (int64_t i : order) {
    train.push_back(
        {files.train_files[static_cast<size_t>(i)], files.train_labels[static_cast<size_t>(i)]});
  }
  for (size_t i = 0; i < files.test_files.size(); ++i) {
    test.push_back({files.test_files[i], files.test_labels[i]});
  }
  stack_image_files(train, options, out.train_images, out.train_labels, out.train_files,
                    out.skipped);
  stack_image_files(test, options, out.test_images, out.test_labels, out.test_files, out.skipped);
  NABLA_CHECK(out.train_images.size(0) > 0 && out.test_images.size(0) > 0, "image folder ", dir,
              ": the ", out.train_images.size(0) == 0 ? "training" : "test", " part holds no ",
              "images (", out.train_images.size(0), " training, ", out.test_images.size(0),
              " test); add images, or change the test fraction");
  if (out.skipped > 0) {
    std::ostream& warnings = options.warnings != nullptr ? *options.warnings : std::cerr;
    warnings << "nabla: warning: skipped " << out.skipped << " bad image"
             << (out.skipped == 1 ? "" : "s") << " in " << dir << "\n";
  }
  return out;
}

}  // namespace nabla::data
