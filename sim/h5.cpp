#include "sim/h5.hpp"

#include <cstring>
#include <mutex>
#include <numeric>

namespace betacrit::h5 {

namespace {

/// Switches off HDF5's automatic printing of its error stack (once per process).
void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

herr_t take_innermost(unsigned n, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (n == 0 && err->desc != nullptr) *out = err->desc;
  return 0;
}

/// The innermost message of HDF5's error stack (then cleared), as " (HDF5: ...)".
std::string hdf5_detail() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &msg);
  H5Eclear2(H5E_DEFAULT);
  return msg.empty() ? std::string() : " (HDF5: " + msg + ")";
}

std::string join_path(const std::string& base, const std::string& rel) {
  if (rel.empty()) return base;
  if (rel.front() == '/') return rel;
  if (base == "/") return "/" + rel;
  return base + "/" + rel;
}

std::string parent_of(const std::string& path) {
  const auto p = path.find_last_of('/');
  if (p == std::string::npos) return "";
  if (p == 0) return "/";
  return path.substr(0, p);
}

std::string leaf_of(const std::string& path) {
  const auto p = path.find_last_of('/');
  return p == std::string::npos ? path : path.substr(p + 1);
}

template <class T>
struct TypeOf;
template <>
struct TypeOf<double> {
  static hid_t mem() { return H5T_NATIVE_DOUBLE; }
  static hid_t file() { return H5T_IEEE_F64LE; }
};
template <>
struct TypeOf<float> {
  static hid_t mem() { return H5T_NATIVE_FLOAT; }
  static hid_t file() { return H5T_IEEE_F32LE; }
};
template <>
struct TypeOf<std::uint64_t> {
  static hid_t mem() { return H5T_NATIVE_UINT64; }
  static hid_t file() { return H5T_STD_U64LE; }
};
template <>
struct TypeOf<std::int64_t> {
  static hid_t mem() { return H5T_NATIVE_INT64; }
  static hid_t file() { return H5T_STD_I64LE; }
};
template <>
struct TypeOf<std::int32_t> {
  static hid_t mem() { return H5T_NATIVE_INT32; }
  static hid_t file() { return H5T_STD_I32LE; }
};
template <>
struct TypeOf<std::uint8_t> {
  static hid_t mem() { return H5T_NATIVE_UINT8; }
  static hid_t file() { return H5T_STD_U8LE; }
};

Id make_vlen_string_type() {
  Id t(H5Tcopy(H5T_C_S1));
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

Id make_bool_type() {
  Id t(H5Tenum_create(H5T_NATIVE_INT8));
  const std::int8_t f = 0, tr = 1;
  H5Tenum_insert(t.get(), "FALSE", &f);
  H5Tenum_insert(t.get(), "TRUE", &tr);
  return t;
}

/// Property list that does not record object times (equal content, equal objects).
Id untimed_plist(hid_t cls) {
  Id p(H5Pcreate(cls));
  H5Pset_obj_track_times(p.get(), 0);
  return p;
}

Id simple_space(const Dims& dims) {
  if (dims.empty()) return Id(H5Screate(H5S_SCALAR));
  std::vector<hsize_t> d(dims.begin(), dims.end());
  return Id(H5Screate_simple(static_cast<int>(d.size()), d.data(), nullptr));
}

Dims space_dims(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank <= 0) return {};
  std::vector<hsize_t> d(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, d.data(), nullptr);
  return Dims(d.begin(), d.end());
}

/// Reads a list of strings (variable-length or fixed-length) through `read(memtype, buf)`.
template <class Read>
std::vector<std::string> read_string_list(hid_t type, hid_t space, Read&& read, bool& ok) {
  ok = false;
  if (H5Tget_class(type) != H5T_STRING) return {};
  const hssize_t count = H5Sget_simple_extent_npoints(space);
  if (count < 0) return {};
  const auto n = static_cast<std::size_t>(count);
  std::vector<std::string> out;
  if (H5Tis_variable_str(type) > 0) {
    Id mem = make_vlen_string_type();
    H5Tset_cset(mem.get(), H5Tget_cset(type));
    std::vector<char*> buf(n, nullptr);
    if (n > 0 && read(mem.get(), buf.data()) < 0) return {};
    for (char* s : buf) out.emplace_back(s != nullptr ? s : "");
    if (n > 0) H5Dvlen_reclaim(mem.get(), space, H5P_DEFAULT, buf.data());
  } else {
    const std::size_t size = H5Tget_size(type);
    Id mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), size);
    H5Tset_cset(mem.get(), H5Tget_cset(type));
    std::vector<char> buf(n * size + 1, '\0');
    if (n > 0 && read(mem.get(), buf.data()) < 0) return {};
    for (std::size_t i = 0; i < n; ++i) {
      const char* s = buf.data() + i * size;
      out.emplace_back(s, strnlen(s, size));
    }
  }
  ok = true;
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------- Id

Id::Id(const Id& o) : id_(o.id_) {
  if (valid()) H5Iinc_ref(id_);
}

Id& Id::operator=(const Id& o) {
  if (this != &o) {
    reset();
    id_ = o.id_;
    if (valid()) H5Iinc_ref(id_);
  }
  return *this;
}

Id& Id::operator=(Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Id::reset() {
  if (valid()) {
    H5Idec_ref(id_);
    H5Eclear2(H5E_DEFAULT);
  }
  id_ = H5I_INVALID_HID;
}

// ------------------------------------------------------------------------ Object

std::string Object::child_path(const std::string& rel) const { return join_path(path_, rel); }

void Object::fail(const std::string& what, const std::string& sub) const {
  throw Error(file_ + ": " + child_path(sub) + ": " + what + hdf5_detail());
}

bool Object::has_attr(const std::string& name) const { return H5Aexists(id(), name.c_str()) > 0; }

namespace {
herr_t collect_attr(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> Object::attr_names() const {
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Aiterate2(id(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_attr, &names) < 0)
    fail("cannot list attributes");
  return names;
}

void Object::delete_attr(const std::string& name) const {
  if (H5Adelete(id(), name.c_str()) < 0) fail("cannot delete attribute '" + name + "'");
}

namespace {
/// Creates (replacing) attribute `name` of `type` and `space` and writes `buf` as `memtype`.
void write_attr(const Object& o, const std::string& name, hid_t type, hid_t space, hid_t memtype,
                const void* buf) {
  if (o.has_attr(name)) o.delete_attr(name);
  Id a(H5Acreate2(o.id(), name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT));
  if (!a.valid()) o.fail("cannot create attribute '" + name + "'");
  if (H5Awrite(a.get(), memtype, buf) < 0) o.fail("cannot write attribute '" + name + "'");
}

Id open_attr(const Object& o, const std::string& name) {
  if (!o.has_attr(name)) o.fail("attribute '" + name + "' not found");
  Id a(H5Aopen(o.id(), name.c_str(), H5P_DEFAULT));
  if (!a.valid()) o.fail("cannot open attribute '" + name + "'");
  return a;
}

template <class T>
T read_scalar_attr(const Object& o, const std::string& name, hid_t memtype) {
  Id a = open_attr(o, name);
  Id type(H5Aget_type(a.get()));
  Id space(H5Aget_space(a.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) o.fail("attribute '" + name + "' is not numeric");
  if (H5Sget_simple_extent_npoints(space.get()) != 1) o.fail("attribute '" + name + "' is not a scalar");
  T v{};
  if (H5Aread(a.get(), memtype, &v) < 0) o.fail("cannot read attribute '" + name + "'");
  return v;
}
}  // namespace

void Object::set_string_attr(const std::string& name, std::string_view value) const {
  Id type = make_vlen_string_type();
  Id space(H5Screate(H5S_SCALAR));
  const std::string copy(value);
  const char* p = copy.c_str();
  write_attr(*this, name, type.get(), space.get(), type.get(), &p);
}

void Object::set_double_attr(const std::string& name, double value) const {
  Id space(H5Screate(H5S_SCALAR));
  write_attr(*this, name, H5T_IEEE_F64LE, space.get(), H5T_NATIVE_DOUBLE, &value);
}

void Object::set_int_attr(const std::string& name, std::int64_t value) const {
  Id space(H5Screate(H5S_SCALAR));
  write_attr(*this, name, H5T_STD_I64LE, space.get(), H5T_NATIVE_INT64, &value);
}

void Object::set_uint_attr(const std::string& name, std::uint64_t value) const {
  Id space(H5Screate(H5S_SCALAR));
  write_attr(*this, name, H5T_STD_U64LE, space.get(), H5T_NATIVE_UINT64, &value);
}

void Object::set_bool_attr(const std::string& name, bool value) const {
  Id type = make_bool_type();
  Id space(H5Screate(H5S_SCALAR));
  const std::int8_t v = value ? 1 : 0;
  write_attr(*this, name, type.get(), space.get(), type.get(), &v);
}

void Object::set_strings_attr(const std::string& name, const std::vector<std::string>& values) const {
  Id type = make_vlen_string_type();
  Id space = simple_space({values.size()});
  std::vector<const char*> ptrs;
  ptrs.reserve(values.size());
  for (const auto& s : values) ptrs.push_back(s.c_str());
  write_attr(*this, name, type.get(), space.get(), type.get(), ptrs.data());
}

std::string Object::string_attr(const std::string& name) const {
  auto v = strings_attr(name);
  if (v.size() != 1) fail("attribute '" + name + "' is not a single string");
  return v.front();
}

std::vector<std::string> Object::strings_attr(const std::string& name) const {
  Id a = open_attr(*this, name);
  Id type(H5Aget_type(a.get()));
  Id space(H5Aget_space(a.get()));
  bool ok = false;
  auto out = read_string_list(type.get(), space.get(),
                              [&](hid_t mem, void* buf) { return H5Aread(a.get(), mem, buf); }, ok);
  if (!ok) fail("attribute '" + name + "' is not a string");
  return out;
}

double Object::double_attr(const std::string& name) const {
  return read_scalar_attr<double>(*this, name, H5T_NATIVE_DOUBLE);
}

std::int64_t Object::int_attr(const std::string& name) const {
  return read_scalar_attr<std::int64_t>(*this, name, H5T_NATIVE_INT64);
}

std::uint64_t Object::uint_attr(const std::string& name) const {
  return read_scalar_attr<std::uint64_t>(*this, name, H5T_NATIVE_UINT64);
}

bool Object::bool_attr(const std::string& name) const {
  Id a = open_attr(*this, name);
  Id type(H5Aget_type(a.get()));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls == H5T_ENUM) {
    Id native(H5Tget_native_type(type.get(), H5T_DIR_ASCEND));
    const std::size_t size = H5Tget_size(native.get());
    unsigned char buf[16] = {};
    if (size > sizeof buf || H5Aread(a.get(), native.get(), buf) < 0)
      fail("cannot read attribute '" + name + "'");
    for (std::size_t i = 0; i < size; ++i)
      if (buf[i] != 0) return true;
    return false;
  }
  if (cls == H5T_INTEGER) return read_scalar_attr<std::int64_t>(*this, name, H5T_NATIVE_INT64) != 0;
  fail("attribute '" + name + "' is not a boolean");
}

// ----------------------------------------------------------------------- Dataset

Dims Dataset::dims() const {
  Id space(H5Dget_space(id()));
  if (!space.valid()) fail("cannot read the dataspace");
  return space_dims(space.get());
}

template <class T>
Array<T> Dataset::read() const {
  Id type(H5Dget_type(id()));
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail("is not a numeric dataset");
  Array<T> out;
  out.dims = dims();
  const std::size_t n = std::accumulate(out.dims.begin(), out.dims.end(), std::size_t{1}, std::multiplies<>());
  out.data.resize(n);
  if (n > 0 && H5Dread(id(), TypeOf<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data.data()) < 0)
    fail("cannot read dataset");
  return out;
}

std::vector<std::string> Dataset::read_strings() const {
  Id type(H5Dget_type(id()));
  Id space(H5Dget_space(id()));
  bool ok = false;
  auto out = read_string_list(
      type.get(), space.get(),
      [&](hid_t mem, void* buf) { return H5Dread(id(), mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf); }, ok);
  if (!ok) fail("is not a string dataset");
  return out;
}

template Array<double> Dataset::read<double>() const;
template Array<float> Dataset::read<float>() const;
template Array<std::uint64_t> Dataset::read<std::uint64_t>() const;
template Array<std::int64_t> Dataset::read<std::int64_t>() const;
template Array<std::int32_t> Dataset::read<std::int32_t>() const;
template Array<std::uint8_t> Dataset::read<std::uint8_t>() const;

// ------------------------------------------------------------------------- Group

bool Group::exists(const std::string& path) const {
  if (path.empty() || path == "/") return true;
  std::string prefix = path.front() == '/' ? "/" : "";
  std::size_t start = path.front() == '/' ? 1 : 0;
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) {
      prefix += path.substr(start, end - start);
      if (H5Lexists(id(), prefix.c_str(), H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
      // Only a group can have children.
      if (end < path.size()) {
        H5O_info_t info;
        if (H5Oget_info_by_name(id(), prefix.c_str(), &info, H5P_DEFAULT) < 0 || info.type != H5O_TYPE_GROUP) {
          H5Eclear2(H5E_DEFAULT);
          return false;
        }
      }
      prefix += "/";
    }
    start = end + 1;
  }
  return true;
}

Group Group::open_group(const std::string& path) const {
  Id g(H5Gopen2(id(), path.c_str(), H5P_DEFAULT));
  if (!g.valid()) fail("cannot open group", path);
  return Group(std::move(g), file_, child_path(path));
}

Group Group::require_group(const std::string& path) const {
  if (path.empty() || path == "/") return path.empty() ? *this : open_group("/");
  // Create one level at a time so that every group gets the untimed property list.
  std::string prefix = path.front() == '/' ? "/" : "";
  std::size_t start = path.front() == '/' ? 1 : 0;
  Id gcpl = untimed_plist(H5P_GROUP_CREATE);
  while (start < path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) {
      prefix += path.substr(start, end - start);
      if (!exists(prefix)) {
        Id g(H5Gcreate2(id(), prefix.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT));
        if (!g.valid()) fail("cannot create group", prefix);
      }
      prefix += "/";
    }
    start = end + 1;
  }
  return open_group(path);
}

Dataset Group::open_dataset(const std::string& path) const {
  if (!exists(path)) fail("dataset not found", path);
  Id d(H5Dopen2(id(), path.c_str(), H5P_DEFAULT));
  if (!d.valid()) fail("cannot open dataset", path);
  return Dataset(std::move(d), file_, child_path(path));
}

std::vector<std::string> Group::children() const {
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, &idx, collect_link, &names) < 0) fail("cannot list members");
  return names;
}

void Group::remove(const std::string& path) const {
  if (H5Ldelete(id(), path.c_str(), H5P_DEFAULT) < 0) fail("cannot remove", path);
}

template <class T>
Dataset Group::write(const std::string& path, std::span<const T> data, const Dims& dims) const {
  const std::size_t n = std::accumulate(dims.begin(), dims.end(), std::size_t{1}, std::multiplies<>());
  if (n != data.size())
    fail("dataset dimensions hold " + std::to_string(n) + " values, got " + std::to_string(data.size()), path);
  const std::string parent = parent_of(path);
  const Group where = parent.empty() ? *this : require_group(parent);
  const std::string leaf = leaf_of(path);
  Id space = simple_space(dims);
  Id dcpl = untimed_plist(H5P_DATASET_CREATE);
  Id d(H5Dcreate2(where.id(), leaf.c_str(), TypeOf<T>::file(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  if (!d.valid()) fail("cannot create dataset", path);
  if (n > 0 && H5Dwrite(d.get(), TypeOf<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0)
    fail("cannot write dataset", path);
  return Dataset(std::move(d), file_, child_path(path));
}

template Dataset Group::write<double>(const std::string&, std::span<const double>, const Dims&) const;
template Dataset Group::write<std::uint64_t>(const std::string&, std::span<const std::uint64_t>, const Dims&) const;
template Dataset Group::write<std::int64_t>(const std::string&, std::span<const std::int64_t>, const Dims&) const;
template Dataset Group::write<std::uint8_t>(const std::string&, std::span<const std::uint8_t>, const Dims&) const;

Dataset Group::write_strings(const std::string& path, const std::vector<std::string>& values) const {
  const std::string parent = parent_of(path);
  const Group where = parent.empty() ? *this : require_group(parent);
  Id type = make_vlen_string_type();
  Id space = simple_space({values.size()});
  Id dcpl = untimed_plist(H5P_DATASET_CREATE);
  Id d(H5Dcreate2(where.id(), leaf_of(path).c_str(), type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  if (!d.valid()) fail("cannot create dataset", path);
  std::vector<const char*> ptrs;
  for (const auto& s : values) ptrs.push_back(s.c_str());
  if (!values.empty() && H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()) < 0)
    fail("cannot write dataset", path);
  return Dataset(std::move(d), file_, child_path(path));
}

// -------------------------------------------------------------------------- File

File File::create(const std::string& path) {
  silence_hdf5();
  Id f(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  if (!f.valid()) throw Error(path + ": cannot create HDF5 file" + hdf5_detail());
  return File(std::move(f), path);
}

File File::open(const std::string& path, bool writable) {
  silence_hdf5();
  Id f(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!f.valid()) throw Error(path + ": cannot open HDF5 file" + hdf5_detail());
  return File(std::move(f), path);
}

void File::close() {
  if (!id_.valid()) return;
  const hid_t raw = id_.get();
  // Take the handle out first so that the destructor never closes it twice.
  H5Iinc_ref(raw);
  id_.reset();
  if (H5Fclose(raw) < 0) throw Error(file_ + ": cannot close HDF5 file" + hdf5_detail());
}

bool is_hdf5(const std::string& path) {
  silence_hdf5();
  const htri_t r = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

}  // namespace betacrit::h5
