# All dependencies come from Debian 12 packages (scripts/install-deps installs them).
find_package(Boost 1.74 REQUIRED)                 # libboost-dev: Random, Math (header-only)
find_package(nlohmann_json 3.11 REQUIRED)         # nlohmann-json3-dev
find_package(CLI11 2.1 REQUIRED)                  # libcli11-dev
find_package(OpenMP REQUIRED)                     # part of g++
find_package(HDF5 REQUIRED COMPONENTS C)          # libhdf5-dev (serial)
find_package(Catch2 2 REQUIRED)                   # catch2 (v2)
if(NOT TARGET hdf5::hdf5)
  add_library(hdf5::hdf5 INTERFACE IMPORTED)
  target_include_directories(hdf5::hdf5 INTERFACE ${HDF5_INCLUDE_DIRS})
  target_link_libraries(hdf5::hdf5 INTERFACE ${HDF5_C_LIBRARIES})
  target_compile_definitions(hdf5::hdf5 INTERFACE ${HDF5_DEFINITIONS})
endif()
