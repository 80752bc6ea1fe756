// Reading JSON model specs: SpecReader checks values and fails with errors that name the spec's
// source and the JSON path of the bad field ("model spec mlp.json: layers[1].units: ...").
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/json_input.hpp"
#include "nabla/error.hpp"
#include "nabla/nn.hpp"

namespace nabla::io::internal {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;
// Values in errors are shown as bounded excerpts, never dumped whole: see data/json_input.hpp.
using data::internal::json_excerpt;

inline std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// An Error already located in the spec (thrown by SpecReader::fail), so that check_with does not
// wrap it a second time.
class SpecError : public Error {
 public:
  using Error::Error;
};

// Reads a parsed spec; every error names the source and the JSON path of the offending field.
class SpecReader {
 public:
  explicit SpecReader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    throw SpecError(
        detail::str("model spec ", source_, ": ", path.empty() ? "" : path + ": ", message));
  }

  // Rethrows an Error from a library check (unknown activation, ...) at `path`.
  template <class F>
  void check_with(const std::string& path, F check) const {
    try {
      check();
    } catch (const SpecError&) {
      throw;
    } catch (const Error& e) {
      fail(path, e.what());
    }
  }

  void check_keys(const Json& object, const std::string& path, const std::vector<const char*>& keys,
                  const std::string& what) const {
    for (const auto& item : object.items()) {
      const std::string& key = item.key();
      const bool known =
          std::any_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; });
      if (!known) {
        std::vector<std::string> names(keys.begin(), keys.end());
        fail(join_path(path, key), "unknown key for " + what + "; known keys: " + join(names));
      }
    }
  }

  // The value under one of `aliases` (at most one may be present), or null.
  const Json* find(const Json& object, const std::string& path,
                   const std::vector<const char*>& aliases) const {
    const Json* found = nullptr;
    const char* found_name = nullptr;
    for (const char* alias : aliases) {
      const auto it = object.find(alias);
      if (it == object.end()) continue;
      if (found != nullptr) {
        fail(path, detail::str("give either \"", found_name, "\" or \"", alias, "\", not both"));
      }
      found = &*it;
      found_name = alias;
    }
    return found;
  }

  int64_t positive_int(const Json& value, const std::string& path) const {
    if (!value.is_number_integer() || value.get<int64_t>() <= 0) {
      fail(path, "expected a positive integer, got " + json_excerpt(value));
    }
    return value.get<int64_t>();
  }

  std::string string(const Json& value, const std::string& path) const {
    if (!value.is_string()) fail(path, "expected a string, got " + json_excerpt(value));
    return value.get<std::string>();
  }

  bool boolean(const Json& value, const std::string& path) const {
    if (!value.is_boolean()) fail(path, "expected true or false, got " + json_excerpt(value));
    return value.get<bool>();
  }

  // A number in [low, high) (or [low, high] when `inclusive`).
  double number(const Json& value, const std::string& path, double low, double high,
                bool inclusive = false) const {
    const bool ok = value.is_number() && value.get<double>() >= low &&
                    (inclusive ? value.get<double>() <= high : value.get<double>() < high);
    if (!ok) {
      fail(path, detail::str("expected a number in [", low, ", ", high, inclusive ? "]" : ")",
                             ", got ", json_excerpt(value)));
    }
    return value.get<double>();
  }

  static std::string join_path(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  std::string source_;
};

inline std::string validated_activation(const SpecReader& reader, const Json& value,
                                        const std::string& path) {
  std::string name = reader.string(value, path);
  // nabla::activation owns the list of names: ask it rather than keep a copy here.
  reader.check_with(path, [&] { activation(zeros({2}), name); });
  return name;
}

inline std::string validated_initializer(const SpecReader& reader, const Json& value,
                                         const std::string& path) {
  std::string name = reader.string(value, path);
  reader.check_with(path, [&] {
    Generator scratch(0);  // leaves the default generator's stream untouched
    Tensor probe = empty({2, 2});
    nn::init::apply(name, probe, &scratch);
  });
  return name;
}

}  // namespace nabla::io::internal
