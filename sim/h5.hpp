#pragma once
// Thin RAII wrappers over the HDF5 C API (1.10): files, groups, N-D datasets of
// double / uint64 / int64 / uint8, scalar attributes (string, double, int64, uint64,
// bool) and string arrays. Every HDF5 failure becomes an h5::Error naming the file and
// the object path; HDF5's own automatic error-stack printing is switched off.
//
// Conventions that h5py users see:
//  * strings are variable-length UTF-8 (h5py returns `str`);
//  * booleans are the enum {FALSE = 0, TRUE = 1} over int8 that h5py maps to numpy.bool_;
//  * object modification times are not recorded, so equal content gives equal objects.
//
// The HDF5 library is built without thread safety: use these objects from one thread
// at a time.
#include <hdf5.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace betacrit::h5 {

/// An HDF5 failure: "FILE: /object/path: what failed (HDF5: innermost library message)".
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Dimensions of a dataset, outermost first.
using Dims = std::vector<std::size_t>;

/// A dataset read into memory: row-major data and its dimensions.
template <class T>
struct Array {
  std::vector<T> data;
  Dims dims;
  [[nodiscard]] std::size_t size() const { return data.size(); }
};

/// Owns one HDF5 identifier (closed when the last owner goes).
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() { reset(); }
  Id(const Id& o);
  Id& operator=(const Id& o);
  Id(Id&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& o) noexcept;
  [[nodiscard]] hid_t get() const { return id_; }
  [[nodiscard]] bool valid() const { return id_ >= 0; }
  void reset();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

/// Anything that carries attributes: a file (its root group), a group or a dataset.
class Object {
 public:
  [[nodiscard]] hid_t id() const { return id_.get(); }
  [[nodiscard]] const std::string& file_name() const { return file_; }
  /// Absolute path of the object inside the file ("/" for the root).
  [[nodiscard]] const std::string& path() const { return path_; }

  [[nodiscard]] bool has_attr(const std::string& name) const;
  [[nodiscard]] std::vector<std::string> attr_names() const;
  void delete_attr(const std::string& name) const;

  // Writers replace an existing attribute of the same name.
  void set_string_attr(const std::string& name, std::string_view value) const;
  void set_double_attr(const std::string& name, double value) const;
  void set_int_attr(const std::string& name, std::int64_t value) const;
  void set_uint_attr(const std::string& name, std::uint64_t value) const;
  void set_bool_attr(const std::string& name, bool value) const;
  void set_strings_attr(const std::string& name, const std::vector<std::string>& values) const;

  // Readers convert between numeric types where HDF5 can; a missing attribute or an
  // incompatible type is an Error naming the attribute.
  [[nodiscard]] std::string string_attr(const std::string& name) const;
  [[nodiscard]] double double_attr(const std::string& name) const;
  [[nodiscard]] std::int64_t int_attr(const std::string& name) const;
  [[nodiscard]] std::uint64_t uint_attr(const std::string& name) const;
  /// Reads a bool stored as the h5py enum or as any integer (non-zero = true).
  [[nodiscard]] bool bool_attr(const std::string& name) const;
  [[nodiscard]] std::vector<std::string> strings_attr(const std::string& name) const;

  /// Throws an Error about this object (or `sub`, a path relative to it).
  [[noreturn]] void fail(const std::string& what, const std::string& sub = "") const;

 protected:
  Object() = default;
  Object(Id id, std::string file, std::string path)
      : id_(std::move(id)), file_(std::move(file)), path_(std::move(path)) {}
  [[nodiscard]] std::string child_path(const std::string& rel) const;

  Id id_;
  std::string file_;
  std::string path_;
};

class Dataset : public Object {
 public:
  Dataset() = default;
  [[nodiscard]] Dims dims() const;
  /// Reads the whole dataset converted to T (double, float, uint64, int64, uint8, int32).
  template <class T>
  [[nodiscard]] Array<T> read() const;
  [[nodiscard]] std::vector<std::string> read_strings() const;

 private:
  friend class Group;
  Dataset(Id id, std::string file, std::string path) : Object(std::move(id), std::move(file), std::move(path)) {}
};

class Group : public Object {
 public:
  Group() = default;
  /// Whether `path` (relative or absolute, any depth) names an existing link. Never throws
  /// for a missing intermediate group.
  [[nodiscard]] bool exists(const std::string& path) const;
  [[nodiscard]] Group open_group(const std::string& path) const;
  /// Creates `path` and any missing intermediate groups; opens it when it exists.
  [[nodiscard]] Group require_group(const std::string& path) const;
  [[nodiscard]] Dataset open_dataset(const std::string& path) const;
  /// Names of the links directly below this group, sorted.
  [[nodiscard]] std::vector<std::string> children() const;
  void remove(const std::string& path) const;

  /// Writes a new dataset (intermediate groups are created). `dims` must multiply to
  /// data.size(); an empty `dims` writes a scalar. T: double, uint64, int64 or uint8.
  template <class T>
  Dataset write(const std::string& path, std::span<const T> data, const Dims& dims) const;
  template <class T>
  Dataset write(const std::string& path, const std::vector<T>& data, const Dims& dims) const {
    return write<T>(path, std::span<const T>(data), dims);
  }
  /// A 1-D dataset of variable-length UTF-8 strings.
  Dataset write_strings(const std::string& path, const std::vector<std::string>& values) const;

  template <class T>
  [[nodiscard]] Array<T> read(const std::string& path) const {
    return open_dataset(path).read<T>();
  }

 protected:
  Group(Id id, std::string file, std::string path) : Object(std::move(id), std::move(file), std::move(path)) {}
};

class File : public Group {
 public:
  File() = default;
  /// Creates a file, replacing any existing one at `path`.
  static File create(const std::string& path);
  /// Opens an existing file.
  static File open(const std::string& path, bool writable = false);
  /// Flushes and closes, reporting any failure (the destructor closes silently).
  void close();
  [[nodiscard]] bool is_open() const { return id_.valid(); }

 private:
  File(Id id, std::string file) : Group(std::move(id), std::move(file), "/") {}
};

/// Whether `path` is an HDF5 file (false for a missing or non-HDF5 file).
bool is_hdf5(const std::string& path);

}  // namespace betacrit::h5
