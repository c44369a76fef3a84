// The HDF5 wrappers: round trips of every supported type, attributes, error messages.
#include "sim/h5.hpp"

#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

using namespace betacrit;

namespace {
std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("betacrit-test-" + std::to_string(::getpid()) + "-" + name)).string();
}
}  // namespace

TEST_CASE("h5 datasets and attributes round-trip", "[h5]") {
  const std::string path = temp_file("roundtrip.h5");
  const std::vector<double> d = {1.5, -2.25, std::numeric_limits<double>::quiet_NaN(), 1e-300, 4, 5};
  const std::vector<std::uint64_t> u = {0, 1, std::numeric_limits<std::uint64_t>::max()};
  const std::vector<std::int64_t> i = {-7, 0, std::numeric_limits<std::int64_t>::min()};
  {
    h5::File f = h5::File::create(path);
    const auto ds = f.write<double>("/a/b/c/values", d, {2, 3});
    ds.set_string_attr("description", "six doubles");
    ds.set_string_attr("unicode", "β in 1/score");
    f.write<std::uint64_t>("a/u", u, {3});
    f.write<std::int64_t>("i", i, {3});
    f.write<double>("empty", std::vector<double>{}, {0, 4});
    f.write_strings("names", {"entropy", "", "max_weight"});
    f.set_bool_attr("yes", true);
    f.set_bool_attr("no", false);
    f.set_double_attr("x", 0.1);
    f.set_int_attr("k", -3);
    f.set_uint_attr("seed", std::numeric_limits<std::uint64_t>::max());
    f.set_strings_attr("columns", {"median", "median_lo"});
    f.set_string_attr("x2", "first");
    f.set_string_attr("x2", "replaced");
    f.close();
  }
  const h5::File f = h5::File::open(path);
  const auto a = f.read<double>("a/b/c/values");
  REQUIRE(a.dims == h5::Dims{2, 3});
  for (std::size_t k = 0; k < d.size(); ++k)
    CHECK((std::isnan(d[k]) ? std::isnan(a.data[k]) : a.data[k] == d[k]));
  CHECK(f.read<std::uint64_t>("/a/u").data == u);
  CHECK(f.read<std::int64_t>("i").data == i);
  CHECK(f.read<double>("empty").dims == h5::Dims{0, 4});
  CHECK(f.open_dataset("names").read_strings() == std::vector<std::string>{"entropy", "", "max_weight"});
  CHECK(f.open_dataset("a/b/c/values").string_attr("description") == "six doubles");
  CHECK(f.open_dataset("a/b/c/values").string_attr("unicode") == "β in 1/score");
  CHECK(f.bool_attr("yes"));
  CHECK_FALSE(f.bool_attr("no"));
  CHECK(f.double_attr("x") == 0.1);
  CHECK(f.int_attr("k") == -3);
  CHECK(f.double_attr("k") == -3.0);
  CHECK(f.uint_attr("seed") == std::numeric_limits<std::uint64_t>::max());
  CHECK(f.strings_attr("columns") == std::vector<std::string>{"median", "median_lo"});
  CHECK(f.string_attr("x2") == "replaced");
  CHECK(f.exists("a/b/c/values"));
  CHECK(f.exists("/a/b"));
  CHECK_FALSE(f.exists("a/missing/deeper"));
  CHECK_FALSE(f.exists("a/u/not_a_group_child"));
  CHECK(f.children() == std::vector<std::string>{"a", "empty", "i", "names"});
  CHECK(f.open_group("a").children() == std::vector<std::string>{"b", "u"});
  std::filesystem::remove(path);
}

TEST_CASE("h5 failures name the file and the object", "[h5]") {
  const std::string path = temp_file("errors.h5");
  {
    h5::File f = h5::File::create(path);
    f.write<double>("g/x", std::vector<double>{1, 2}, {2});
    CHECK_THROWS_WITH(f.write<double>("g/y", std::vector<double>{1, 2, 3}, {2}),
                      Catch::Contains(path) && Catch::Contains("/g/y") && Catch::Contains("got 3"));
    CHECK_THROWS_WITH(f.write<double>("g/x", std::vector<double>{1}, {1}),
                      Catch::Contains(path + ": /g/x: cannot create dataset"));
    f.close();
  }
  const h5::File f = h5::File::open(path);
  CHECK_THROWS_AS(f.read<double>("g/nothing"), h5::Error);
  CHECK_THROWS_WITH(f.read<double>("g/nothing"), Catch::Contains(path + ": /g/nothing: dataset not found"));
  CHECK_THROWS_WITH(f.open_group("g").string_attr("missing"),
                    Catch::Contains(path + ": /g: attribute 'missing' not found"));
  CHECK_THROWS_WITH(h5::File::open(path + ".does-not-exist"), Catch::Contains(path + ".does-not-exist"));
  CHECK_FALSE(h5::is_hdf5(path + ".does-not-exist"));
  CHECK(h5::is_hdf5(path));
  std::filesystem::remove(path);
}
