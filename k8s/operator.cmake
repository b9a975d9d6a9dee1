# The operator's own targets in k8s/ (the client library's are in k8s/CMakeLists.txt).

# drop-noop: static and tiny, no C++ runtime (see noop.cc).
add_executable(drop-noop ${CMAKE_CURRENT_LIST_DIR}/noop.cc)
target_compile_options(drop-noop PRIVATE -Os -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables)
target_link_options(drop-noop PRIVATE -static -s)
set_target_properties(drop-noop PROPERTIES CXX_COMPILER_LAUNCHER "")

find_package(Boost 1.81 REQUIRED COMPONENTS json)

# drop_operator: the operator's pieces above the client (manifests, executor, metrics, logs).
find_package(prometheus-cpp REQUIRED)
find_package(OpenSSL REQUIRED)
add_library(drop_operator
  ${CMAKE_CURRENT_LIST_DIR}/manifests.cc
  ${CMAKE_CURRENT_LIST_DIR}/log.cc
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/health_server.cc
  ${CMAKE_CURRENT_LIST_DIR}/batch_log.cc
  ${CMAKE_CURRENT_LIST_DIR}/executor.cc
  ${CMAKE_CURRENT_LIST_DIR}/manager.cc
)
target_link_libraries(drop_operator PUBLIC drop_journal drop_k8s Boost::json prometheus-cpp::core
  prometheus-cpp::pull)

find_package(CLI11 REQUIRED)
add_executable(drop-controller-manager ${CMAKE_CURRENT_LIST_DIR}/main.cc)
target_link_libraries(drop-controller-manager PRIVATE drop_operator CLI11::CLI11)
